"""Figures of the data checks (:mod:`study.forensics`, :mod:`study.univariate`).

Drawn from the saved tables only, in the style of :mod:`study.figures`:

- :func:`univariate_effects`: every metadata variable's effect size on each target, with its
  bootstrap interval, a panel per dataset and effect measure;
- :func:`forensics_pairs`: the dependence of every pair of columns (test p-value and
  effect size), a heat map per dataset, pairs with BH q < alpha marked.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from study.figures import OKABE_ITO, _finish, _new_figure, _nice_locator, _panel_label, style

__all__ = ["CAPTIONS", "forensics_pairs", "univariate_effects"]

_WIDTH = 7.2
_EFFECT_LABELS = {"eta_squared": "η² (ANOVA)", "epsilon_squared": "ε² (Kruskal-Wallis)",
                  "cramers_v": "Cramér's V (chi-square, class target)",
                  "spearman_rho": "Spearman ρ"}  # Pearson r is in the table, not drawn

#: Caption templates; ``{alpha}`` is filled by the caller.
CAPTIONS = {
    "univariate_effects": (
        "Effect size of every metadata variable on popularity, one panel per dataset and "
        "measure (η² of one-way ANOVA and ε² of Kruskal-Wallis on the regression target, "
        "Cramér's V of the chi-square test on the class target, numeric variables in "
        "deciles; Spearman ρ for numeric variables), with 95% bootstrap percentile "
        "intervals. Filled markers: Benjamini-Hochberg q < {alpha} within the panel's "
        "family; open: not significant. Under independence these effect sizes are not "
        "zero but of order (levels - 1) / n, which is where the points sit; for the same "
        "reason the bootstrap distribution of a non-negative measure near zero lies above "
        "the estimate, so its percentile interval shows sampling spread and may not contain "
        "the point (the tests are the ANOVA, Kruskal-Wallis and chi-square p-values)."),
    "forensics_pairs": (
        "Dependence between every pair of columns of each table. Colour: -log10 of the "
        "p-value of the pair's test of independence (chi-square for two categorical "
        "columns, Kruskal-Wallis for a categorical and a numeric one, Spearman for two "
        "numeric ones); number: its effect size (Cramér's V, ε², |ρ|); dot: "
        "Benjamini-Hochberg q < {alpha} across the table's pairs. Under independence the "
        "p-values are uniform, so about one pair in twenty is coloured above 1.3 by "
        "chance. Real-world metadata would show structure (likes rising with views, "
        "styles tied to platforms)."),
}


def univariate_effects(table: pd.DataFrame, *, alpha: float = 0.05,
                       synthetic: bool = False) -> Figure:
    """Dot-and-interval plot of the univariate effect sizes (``tables/univariate.csv``)."""
    measures = [m for m in _EFFECT_LABELS if m in set(table["effect_name"])]
    datasets = list(dict.fromkeys(table["dataset"]))
    counts = np.array([[int(((table["dataset"] == d) & (table["effect_name"] == m)).sum())
                        for d in datasets] for m in measures])  # rows: measures
    height = 0.45 + float(np.sum(counts.max(axis=1) * 0.13 + 0.45))
    with style():
        fig = _new_figure(_WIDTH, height)
        grid = fig.add_gridspec(len(measures), len(datasets),
                                height_ratios=counts.max(axis=1) + 1)
        for (i, measure), (j, dataset) in itertools.product(enumerate(measures),
                                                            enumerate(datasets)):
            if counts[i, j] == 0:
                continue  # this dataset has no variable of this kind: an empty cell
            ax = fig.add_subplot(grid[i, j])
            sub = table[(table["dataset"] == dataset) & (table["effect_name"] == measure)]
            y = np.arange(len(sub))[::-1]
            effect = sub["effect"].to_numpy(dtype=float)
            low = sub["effect_ci_low"].to_numpy(dtype=float)
            high = sub["effect_ci_high"].to_numpy(dtype=float)
            hit = sub["q_bh"].to_numpy(dtype=float) < alpha
            ax.hlines(y, low, high, color=OKABE_ITO["blue"], linewidth=0.8)
            ax.scatter(effect[~hit], y[~hit], s=10, facecolor="white",
                       edgecolor=OKABE_ITO["blue"], linewidth=0.8, zorder=3)
            ax.scatter(effect[hit], y[hit], s=10, color=OKABE_ITO["vermillion"], zorder=3)
            if measure in ("spearman_rho", "pearson_r"):
                ax.axvline(0, color=OKABE_ITO["black"], linewidth=0.6, linestyle="--")
            else:
                ax.set_xlim(left=0)
            ax.xaxis.set_major_locator(_nice_locator(4))
            ax.set_yticks(y)
            ax.set_yticklabels(sub["variable"], fontsize=6)
            ax.set_ylim(-0.7, len(sub) - 0.3)
            _panel_label(ax, f"{dataset} · {_EFFECT_LABELS[measure]}")
    return _finish(fig, synthetic)


def _pair_matrix(pairs: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray,
                                                 np.ndarray]:
    columns = list(dict.fromkeys([*pairs["column_a"], *pairs["column_b"]]))
    index = {c: i for i, c in enumerate(columns)}
    effect = np.full((len(columns), len(columns)), np.nan)
    p, q = np.full_like(effect, np.nan), np.full_like(effect, np.nan)
    for row in pairs.itertuples():
        i, j = index[row.column_a], index[row.column_b]
        effect[i, j] = effect[j, i] = abs(float(row.effect))
        p[i, j] = p[j, i] = float(row.pvalue)
        q[i, j] = q[j, i] = float(row.q_bh)
    return columns, effect, p, q


def forensics_pairs(pairwise: pd.DataFrame, *, alpha: float = 0.05,
                    synthetic: bool = False) -> Figure:
    """Heat maps of pairwise dependence (``tables/forensics_pairwise.csv``).

    Colour: ``-log10 p`` of the pair's test (under independence uniform p-values, so mostly
    below 1.3 = -log10 0.05); text: the effect size; dot: BH q < ``alpha``.
    """
    datasets = list(dict.fromkeys(pairwise["dataset"]))
    pairwise = pairwise.assign(pvalue=pairwise["pvalue"].clip(lower=1e-300))  # p = 0: finite
    matrices = [_pair_matrix(pairwise[pairwise["dataset"] == d]) for d in datasets]
    top = max(3.0, max(float(np.nanmax(-np.log10(m[2]))) for m in matrices))
    with style():
        fig = _new_figure(_WIDTH, 3.5)
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        image = None
        for ax, dataset, (columns, effect, p, q) in zip(axes, datasets, matrices,
                                                         strict=True):
            image = ax.imshow(-np.log10(p), cmap="cividis", vmin=0, vmax=top)
            for i in range(len(columns)):
                for j in range(len(columns)):
                    if i != j and np.isfinite(effect[i, j]):
                        light = -np.log10(p[i, j]) > 0.6 * top
                        ax.text(j, i, f"{effect[i, j]:.3f}".lstrip("0"), ha="center",
                                va="center", fontsize=4.5,
                                color="black" if light else "white")
            ii, jj = np.nonzero(q < alpha)
            ax.scatter(jj + 0.32, ii - 0.32, s=7, color=OKABE_ITO["vermillion"],
                       edgecolor="white", linewidth=0.4)
            ax.set_xticks(range(len(columns)))
            ax.set_xticklabels(columns, rotation=60, ha="right", fontsize=6)
            ax.set_yticks(range(len(columns)))
            ax.set_yticklabels(columns, fontsize=6)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            _panel_label(ax, dataset)
        if image is not None:
            bar = fig.colorbar(image, ax=list(axes), shrink=0.8, pad=0.02)
            bar.set_label("−log10 p (independence test)", fontsize=7)
    return _finish(fig, synthetic)
