"""Figures of the calibration (:mod:`study.calibration`), drawn from its saved records only.

- :func:`pvalue_qq`: p-values under H0 against the uniform, one panel per tested cell, with
  the simultaneous 95% Kolmogorov-Smirnov band;
- :func:`power_curves`: rejection rate against the planted population R2;
- :func:`coverage_plot`: coverage of each interval with its Clopper-Pearson interval.

They share the publication style of :mod:`study.figures` (Okabe-Ito colours, 7.2 in wide,
no baked-in titles) and are written by :func:`study.figures.save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

from study.calibration import null_cells, uniform_pvalues
from study.figures import OKABE_ITO, _new_figure, _panel_label, style

__all__ = ["CAPTIONS", "coverage_plot", "ks_band", "power_curves", "pvalue_qq"]

_WIDTH = 7.2
_TEST_COLORS = {
    "permutation (simulated null)": OKABE_ITO["blue"],
    "corrected t vs baseline": OKABE_ITO["orange"],
    "DeLong": OKABE_ITO["bluish_green"],
}
_TEST_MARKERS = {"permutation (simulated null)": "o", "corrected t vs baseline": "s",
                 "DeLong": "^"}

_SHORT_TESTS = {"permutation (stratified)": "perm. stratified",
                "permutation (unstratified)": "perm. unstratified",
                "corrected t vs baseline": "corr. t vs dummy"}

#: Caption templates; ``{alpha}``, ``{level}`` and ``{n_splits}`` are filled by the caller.
CAPTIONS = {
    "calibration_qq": (
        "P-values of each test on null tables (target independent of every column), sorted "
        "against the quantiles of the uniform distribution, one panel per dataset, test and "
        "model (rows per table and replicates in the panel label). Permutation p-values are "
        "discrete and shown randomised within the gap below each attainable value, which "
        "makes them exactly uniform under a valid test. Grey band: simultaneous 95% "
        "Kolmogorov-Smirnov band (a valid test stays inside it everywhere with probability "
        "0.95). Dashed: the identity; dotted: alpha = {alpha}."),
    "calibration_power": (
        "Power at alpha = {alpha} against the planted population R² of the best predictor "
        "(log scale), on tables with the real files' row counts, {n_splits}-fold CV of ridge "
        "(regression) and logistic regression (classification). Bars: Clopper-Pearson 95% "
        "intervals; dashed: 80% power; dotted: alpha; dash-dotted: the minimum detectable "
        "effect. The permutation test's critical value is the (1 - alpha) quantile of the "
        "statistic on simulated null tables. Power is at the unadjusted alpha, not at the "
        "Holm level of the study's 12 tests. DeLong's curve is inflated by its excess "
        "type-I error (see the QQ plot)."),
    "calibration_coverage": (
        "Coverage of the nominal {level:.0%} intervals, with Clopper-Pearson 95% intervals of "
        "the coverage: BCa bootstrap intervals (predictions held fixed) of the oracle "
        "predictor E[y|X] under planted effects (truth: the population R² or AUC) and of the "
        "fitted logistic model under H0 (truth: AUC 0.5), and the Nadeau-Bengio corrected "
        "t interval of the logistic model's fold AUCs under H0 (truth: 0.5). Dashed: the "
        "nominal level."),
}


def ks_band(m: int, *, confidence_level: float = 0.95) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Simultaneous band for the sorted sample of ``m`` uniform p-values.

    ``sup_t |F_m(t) - t| <= eps`` with ``eps`` the ``confidence_level`` quantile of the
    Kolmogorov distribution of size ``m`` (:data:`scipy.stats.kstwo`), which holds for the
    order statistics exactly when ``i/m - eps <= p_(i) <= (i-1)/m + eps`` for every ``i``.

    Returns
    -------
    x, low, high : ndarray of shape (m,)
        ``x = i / m`` and the band's bounds for ``p_(i)``, clipped to [0, 1].
    """
    eps = float(stats.kstwo.ppf(confidence_level, m))
    i = np.arange(1, m + 1)
    return i / m, np.clip(i / m - eps, 0, 1), np.clip((i - 1) / m + eps, 0, 1)


def _panel_grid(n_panels: int, columns: int) -> tuple[int, int]:
    rows = max(1, math.ceil(n_panels / columns))
    return rows, min(columns, n_panels)


def pvalue_qq(replicates: pd.DataFrame, design: Mapping[str, Any]) -> Figure:
    """QQ plot of the null p-values of every type-I cell, with the KS band."""
    groups = null_cells(replicates)
    rows, cols = _panel_grid(len(groups), 3)
    with style():
        fig = _new_figure(_WIDTH, 1.55 * rows + 0.2)
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
        for ax in axes.flat[len(groups):]:
            ax.set_visible(False)
        for ax, ((dataset, _, test, model), group) in zip(axes.flat, groups, strict=False):
            p = np.sort(uniform_pvalues(group, design))
            x, low, high = ks_band(p.size)
            mid = x - 0.5 / p.size  # plotting positions (i - 1/2) / m
            ax.fill_between(mid, low, high, color="#D9D9D9", linewidth=0)
            ax.plot([0, 1], [0, 1], color=OKABE_ITO["black"], linewidth=0.6, linestyle="--")
            ax.axvline(design["alpha"], color="#7F7F7F", linewidth=0.5, linestyle=":")
            ax.plot(mid, p, color=OKABE_ITO["blue"], linewidth=0.9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xticks([0, 0.5, 1])
            ax.set_yticks([0, 0.5, 1])
            _panel_label(ax, f"{dataset} · {model.replace('_', ' ')} · n = "
                             f"{int(group['n'].iloc[0])}\n{_SHORT_TESTS.get(test, test)}, "
                             f"{p.size} reps")
        for c in range(cols):  # the lowest panel of each column carries the x axis
            lowest = axes[max(r for r in range(rows) if axes[r, c].get_visible()), c]
            lowest.xaxis.set_tick_params(labelbottom=True)
            lowest.set_xlabel("uniform quantile")
        for ax in axes[:, 0]:
            ax.set_ylabel("sorted p-value")
    return fig


def power_curves(power: pd.DataFrame, mde: pd.DataFrame | None = None) -> Figure:
    """Power against the planted population R2, a panel per dataset and task."""
    panels = list(power.groupby(["dataset", "task"], sort=False))
    rows, cols = _panel_grid(len(panels), 2)
    with style():
        fig = _new_figure(_WIDTH, 2.1 * rows + 0.45)
        axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        for ax, ((dataset, task), sub) in zip(axes.flat, panels, strict=False):
            sub = sub[sub["effect_r2"] > 0]
            for test, curve in sub.groupby("test", sort=False):
                curve = curve.sort_values("effect_r2")
                x = curve["effect_r2"].to_numpy(dtype=float)
                y = curve["power"].to_numpy(dtype=float)
                err = np.vstack([y - curve["ci_low"], curve["ci_high"] - y])
                ax.errorbar(x, y, yerr=err, color=_TEST_COLORS.get(test, "black"),
                            marker=_TEST_MARKERS.get(test, "o"), markersize=3, linewidth=0.9,
                            elinewidth=0.6, capsize=1.5)
                if mde is not None:
                    row = mde[(mde["dataset"] == dataset) & (mde["task"] == task)
                              & (mde["test"] == test)]
                    if not row.empty and math.isfinite(float(row["mde_r2"].iloc[0])):
                        ax.axvline(float(row["mde_r2"].iloc[0]), ymax=0.8 / 1.05,
                                   color=_TEST_COLORS.get(test, "black"), linewidth=0.5,
                                   linestyle="-.")
            ax.axhline(0.8, color=OKABE_ITO["black"], linewidth=0.6, linestyle="--")
            alpha = float(sub["alpha"].iloc[0]) if not sub.empty else 0.05
            ax.axhline(alpha, color="#7F7F7F", linewidth=0.5, linestyle=":")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.05)
            ax.set_xlabel("planted population R²")
            n = int(sub["n"].iloc[0]) if not sub.empty else 0
            metric = "CV R² of ridge" if task == "regression" else "CV AUC of logistic"
            _panel_label(ax, f"{dataset} · {task} ({metric}, n = {n:,})")
        for ax in axes[:, 0]:
            ax.set_ylabel("power")
        handles = [Line2D([], [], color=_TEST_COLORS[t], marker=_TEST_MARKERS[t],
                          markersize=3, linewidth=0.9, label=t)
                   for t in _TEST_COLORS if t in set(power["test"])]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
                   frameon=False)
    return fig


def coverage_plot(coverage: pd.DataFrame) -> Figure:
    """Coverage of every interval row with its Clopper-Pearson interval."""
    frame = coverage.reset_index(drop=True)
    labels = []
    for _, row in frame.iterrows():
        effect = ("H0" if row["effect_r2"] == 0 else f"R² = {row['effect_r2']:g}")
        metric = {"roc_auc": "AUC", "r2": "R²"}.get(row["metric"], row["metric"])
        labels.append(f"{row['dataset']} · {metric} · "
                      f"{row['model']} · {row['interval']} · {effect}")
    height = 0.6 + 0.16 * len(frame)
    with style():
        fig = _new_figure(_WIDTH, height)
        ax = fig.subplots()
        y = np.arange(len(frame))[::-1]
        cov = frame["coverage"].to_numpy(dtype=float)
        err = np.vstack([cov - frame["ci_low"], frame["ci_high"] - cov])
        colors = [OKABE_ITO["blue"] if i == "bootstrap BCa" else OKABE_ITO["orange"]
                  for i in frame["interval"]]
        for yi, c, e0, e1, col in zip(y, cov, err[0], err[1], colors, strict=True):
            ax.errorbar(c, yi, xerr=[[e0], [e1]], color=col, marker="o", markersize=3,
                        linewidth=0, elinewidth=0.8, capsize=1.5)
        level = float(frame["confidence_level"].iloc[0]) if len(frame) else 0.95
        ax.axvline(level, color=OKABE_ITO["black"], linewidth=0.6, linestyle="--")
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=6)
        low = min(0.8, float(np.nanmin(frame["ci_low"])) - 0.02) if len(frame) else 0.8
        ax.set_xlim(low, 1.0)
        ax.set_xlabel("coverage")
    return fig
