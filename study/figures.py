"""Publication figures rendered from saved results.

Every figure is drawn from the frozen records of :mod:`study.results` (fold
scores, out-of-fold predictions, permutation null distributions) and from the
headline table of :func:`study.inference.build_pvalue_table`; nothing here
fits a model. Computing an ROC curve or a bootstrap band from saved
out-of-fold predictions is the only computation done.

The figures are built on :class:`matplotlib.figure.Figure` objects with an
Agg canvas, never through :mod:`matplotlib.pyplot`, so no global figure state
leaks between calls; the publication style is applied through
:func:`style`, a :func:`matplotlib.rc_context` that is undone on exit.

Public API
----------
* :func:`style` -- context manager with the publication style;
* :func:`permutation_nulls`, :func:`forest_plot`, :func:`roc_curves`,
  :func:`fold_scores` -- the four figures, each returning a ``Figure``;
* :func:`mean_roc_curve` -- the fold-averaged ROC curve and its bootstrap band;
* :func:`save_figure` -- deterministic, atomic PDF + PNG output;
* :func:`render_all` -- every figure of :data:`FIGURES` into a folder;
* :data:`FIGURES` -- name to ``(function, caption template)``;
* :func:`format_pvalue`, :data:`SINGLE_COLUMN`, :data:`DOUBLE_COLUMN`,
  :data:`OKABE_ITO`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from numbers import Real
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from study.inference import (
    AUC_EQUIVALENCE_MARGIN,
    PRIMARY_METRICS,
    R2_EQUIVALENCE_MARGIN,
    Cell,
    _as_cell,
    build_pvalue_table,
)
from study.intervals import _as_rng_list, _draw_weights, _split_folds, _strata
from study.io import atomic_write_bytes
from study.results import CVResult

__all__ = [
    "DOUBLE_COLUMN",
    "FIGURES",
    "OKABE_ITO",
    "SINGLE_COLUMN",
    "SYNTHETIC_NOTE",
    "WATERMARK",
    "FigureSpec",
    "fold_scores",
    "forest_plot",
    "format_pvalue",
    "mean_roc_curve",
    "permutation_nulls",
    "render_all",
    "roc_curves",
    "save_figure",
    "style",
]

#: Width of a single journal column, in inches.
SINGLE_COLUMN: float = 3.5
#: Width of a full (double-column) journal page, in inches.
DOUBLE_COLUMN: float = 7.2

#: The Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
_GREY = "#7F7F7F"
_LIGHT_GREY = "#D9D9D9"

#: Fixed colour per model, so a model has the same colour in every figure.
_MODEL_COLORS: dict[str, str] = {
    "ridge": OKABE_ITO["blue"],
    "logistic": OKABE_ITO["blue"],
    "random_forest": OKABE_ITO["bluish_green"],
    "hist_gradient_boosting": OKABE_ITO["orange"],
    "dummy": _GREY,
}
_SPARE_COLORS = (
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["black"],
)
_MODEL_LABELS: dict[str, str] = {
    "ridge": "Ridge",
    "logistic": "Logistic",
    "random_forest": "Random forest",
    "hist_gradient_boosting": "Grad. boosting",
    "dummy": "Dummy",
}
_METRIC_LABELS: dict[str, str] = {"roc_auc": "ROC-AUC", "r2": "R²"}

#: Marker, colour and fill of each verdict of the headline table.
_VERDICT_STYLES: dict[str, dict] = {
    "signal": {"marker": "o", "color": OKABE_ITO["vermillion"], "filled": True},
    "practically null": {"marker": "s", "color": OKABE_ITO["blue"], "filled": True},
    "inconclusive": {"marker": "D", "color": OKABE_ITO["orange"], "filled": False},
    "baseline": {"marker": "v", "color": _GREY, "filled": True},
}

#: Text of the watermark that ``synthetic=True`` adds to a figure.
WATERMARK = "SYNTHETIC DATA"

_Seed = int | np.random.SeedSequence | np.random.Generator | None

# Fixed PDF metadata: no creation date, a constant producer, so that two
# renders of the same figure are byte-identical.
_PDF_METADATA = {
    "CreationDate": None,
    "ModDate": None,
    "Producer": "study.figures",
    "Creator": "study.figures",
}
_PNG_METADATA = {"Software": None}
_DPI = 300

_RC: dict[str, object] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib: same output everywhere
    "mathtext.fontset": "dejavusans",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 7,
    "axes.titlelocation": "left",
    "axes.titlepad": 3,
    "axes.titleweight": "normal",
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "legend.handlelength": 1.4,
    "legend.handletextpad": 0.4,
    "legend.columnspacing": 1.2,
    "legend.borderaxespad": 0.3,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.labelpad": 2.5,
    "axes.prop_cycle": cycler(color=[*list(OKABE_ITO.values())[1:], OKABE_ITO["black"]]),
    "axes.unicode_minus": True,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.major.pad": 2,
    "ytick.major.pad": 2,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "patch.linewidth": 0.5,
    "hatch.linewidth": 0.5,
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
    "figure.constrained_layout.hspace": 0.04,
    "figure.constrained_layout.wspace": 0.04,
    "savefig.dpi": _DPI,
    "savefig.bbox": "standard",  # never "tight": the width must stay the journal width
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "pdf.fonttype": 42,  # TrueType, not Type 3
    "ps.fonttype": 42,
    "pdf.use14corefonts": False,
    "svg.fonttype": "none",
}


@contextmanager
def style(**overrides) -> Iterator[None]:
    """Apply the publication style for the duration of a ``with`` block.

    Thin spines without top and right spines, 7-8 pt DejaVu Sans text
    (readable at print size), the Okabe-Ito colour-blind-safe colour cycle,
    TrueType (Type 42) font embedding in PDF and PostScript, 300 dpi raster
    output and a fixed bounding box (the figure keeps its journal width).

    Parameters
    ----------
    **overrides
        rcParams to set on top of the style, e.g. ``style(**{"font.size": 9})``.

    Yields
    ------
    None
        The rcParams are restored when the block exits.
    """
    rc = dict(_RC)
    rc.update(overrides)
    with mpl.rc_context(rc):
        yield


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def format_pvalue(p: float) -> str:
    """Format a p-value for a figure annotation.

    ``"p < 0.001"`` only when ``p`` is truly below 0.001; otherwise three
    decimals below 0.1 (``"p = 0.012"``) and two above (``"p = 0.43"``).
    NaN gives ``"p = n/a"``.
    """
    p = float(p)
    if math.isnan(p):
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    if p < 0.0995:  # would not round to 0.100
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def _model_label(model: str) -> str:
    return _MODEL_LABELS.get(model, model.replace("_", " "))


def _metric_label(metric: str) -> str:
    return _METRIC_LABELS.get(metric, metric.replace("_", " "))


def _model_colors(models: Sequence[str]) -> dict[str, str]:
    """A colour per model: the fixed ones first, spare Okabe-Ito colours after."""
    out: dict[str, str] = {}
    spare = iter(_SPARE_COLORS * (1 + len(models) // len(_SPARE_COLORS)))
    for m in models:
        out[m] = _MODEL_COLORS.get(m) or next(spare)
    return out


#: Display order of the models within a panel; other models follow in input
#: order and the dummy baseline comes last.
_MODEL_ORDER = ("ridge", "logistic", "random_forest", "hist_gradient_boosting")


def _model_rank(model: str, is_baseline: bool, position: int) -> tuple[int, int, int]:
    known = _MODEL_ORDER.index(model) if model in _MODEL_ORDER else len(_MODEL_ORDER)
    return (int(is_baseline), known, position)


def _sorted_cells(cells: Sequence[Cell]) -> list[Cell]:
    order = sorted(range(len(cells)),
                   key=lambda i: _model_rank(cells[i].model, cells[i].is_baseline, i))
    return [cells[i] for i in order]


def _as_cells(cells) -> list[Cell]:
    if isinstance(cells, (str, bytes, Mapping)) or not isinstance(cells, Sequence):
        raise ValueError("`cells` must be a sequence of Cell objects or mappings.")
    return [_as_cell(c, i) for i, c in enumerate(cells)]


def _unique(values) -> list:
    """Values in order of first appearance."""
    return list(dict.fromkeys(values))


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Figure, synthetic: bool) -> Figure:
    """Add the "SYNTHETIC DATA" watermark in the bottom-right corner.

    Without a figure legend a strip of about 9 pt is reserved below the axes
    for it; a figure legend (placed below the axes, centred and narrower than
    the page) already leaves the corner free.
    """
    if synthetic:
        if not fig.legends:
            strip = 0.12 / fig.get_figheight()
            fig.get_layout_engine().set(rect=(0.0, strip, 1.0, 1.0 - strip))
        fig.text(
            0.995,
            0.004,
            WATERMARK,
            ha="right",
            va="bottom",
            fontsize=6,
            color="#A0A0A0",
            gid="synthetic-watermark",
        )
    return fig


def _nice_locator(nbins: int) -> mpl.ticker.MaxNLocator:
    """Ticks at multiples of 1, 2, 2.5 or 5 times a power of ten."""
    return mpl.ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])


def _signed(value: float, digits: int = 3) -> str:
    """``+0.012`` / ``−0.012`` with a typographic minus."""
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def _panel_label(ax, text: str) -> None:
    """A small left-aligned panel label above the axes (not a figure title)."""
    ax.set_title(text, loc="left", fontsize=7, pad=3)


# --------------------------------------------------------------------------
# 1. Permutation null distributions
# --------------------------------------------------------------------------


def permutation_nulls(cells: Sequence[Cell | Mapping], *, synthetic: bool = False) -> Figure:
    """Permutation null distributions with the observed statistic.

    One panel per (dataset, task, model) cell with a permutation result
    (cells whose ``perm`` is None are skipped): a histogram of the null
    distribution of the fold-averaged headline metric, a vertical line at the
    observed statistic, the one-sided p-value, the number of permutations
    evaluated and whether sequential stopping ended the test early.

    Parameters
    ----------
    cells : sequence of Cell or mapping
        The cells of the study (see :class:`study.inference.Cell`).
    synthetic : bool, default: False
        Mark the figure with a small "SYNTHETIC DATA" watermark.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`DOUBLE_COLUMN` wide; rows are (dataset, task) pairs in order of
        first appearance, columns the models of each pair (ridge/logistic,
        random forest, gradient boosting, other models in input order, the
        dummy last; a short row leaves its last panels empty).

    Raises
    ------
    ValueError
        If no cell has a permutation result.
    """
    cells = [c for c in _as_cells(cells) if c.perm is not None]
    if not cells:
        raise ValueError("no cell has a permutation result (`perm` is None everywhere).")
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.dataset, c.task), []).append(c)
    groups = {k: _sorted_cells(v) for k, v in groups.items()}
    nrows = len(groups)
    ncols = max(len(v) for v in groups.values())
    with style():
        fig = _new_figure(DOUBLE_COLUMN, 0.35 + 1.3 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, ((dataset, task), row_cells) in enumerate(groups.items()):
            for j in range(ncols):
                ax = axes[i, j]
                if j >= len(row_cells):
                    ax.set_visible(False)
                    continue
                _draw_null(ax, row_cells[j])
                if j == 0:
                    ax.set_ylabel(f"{dataset}\n{task}", fontsize=7)
    return _finish(fig, synthetic)


def _draw_null(ax, cell: Cell) -> None:
    perm = cell.perm
    null = np.asarray(perm.null_distribution, dtype=np.float64).ravel()
    null = null[np.isfinite(null)]
    obs = float(perm.statistic)
    if null.size:
        n_bins = int(np.clip(np.histogram_bin_edges(null, bins="auto").size - 1, 10, 40))
        counts, _, _ = ax.hist(
            null, bins=n_bins, color=OKABE_ITO["sky_blue"], edgecolor="white", linewidth=0.25
        )
        top = float(np.max(counts))
        lo, hi = float(null.min()), float(null.max())
    else:  # pragma: no cover - a permutation test always has a null
        top, lo, hi = 1.0, obs, obs
    lo, hi = min(lo, obs), max(hi, obs)
    pad = 0.06 * (hi - lo) if hi > lo else 0.01 * max(1.0, abs(obs))
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(0, 1.55 * top)
    ax.axvline(obs, color=OKABE_ITO["vermillion"], linewidth=1.2)
    count = f"{perm.n_permutations:,} perm."
    lines = [format_pvalue(perm.pvalue), count + (", stopped early" if perm.stopped_early else "")]
    # Text on the side away from the observed line.
    right = (obs - (lo - pad)) / ((hi + pad) - (lo - pad)) < 0.5
    ax.text(
        0.97 if right else 0.03,
        0.97,
        "\n".join(lines),
        transform=ax.transAxes,
        ha="right" if right else "left",
        va="top",
        fontsize=7,
        linespacing=1.15,
    )
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(_metric_label(cell.cv.metric), labelpad=1.5)
    ax.xaxis.set_major_locator(_nice_locator(4))
    _panel_label(ax, _model_label(cell.model))


# --------------------------------------------------------------------------
# 2. Forest plot of the headline table
# --------------------------------------------------------------------------

_FOREST_COLUMNS = ("dataset", "task", "model", "metric", "statistic", "ci_low", "ci_high",
                   "baseline", "verdict")


def forest_plot(
    table: pd.DataFrame,
    *,
    auc_margin: float = AUC_EQUIVALENCE_MARGIN,
    r2_margin: float = R2_EQUIVALENCE_MARGIN,
    synthetic: bool = False,
) -> Figure:
    """Forest plot of the primary-metric rows of the headline table.

    Two panels side by side: ROC-AUC (classification rows) and R2
    (regression rows); a panel is left out when the table has no row for it.
    Rows are grouped by dataset (bold header), the models ordered as in
    :func:`permutation_nulls` with the dummy baseline last.
    Each (dataset, model) row shows the cross-validated point estimate (mean
    fold score) and its 95% bootstrap interval (``ci_low``, ``ci_high``; no
    bar when they are NaN); the marker shape and colour give the verdict
    (signal / practically null / inconclusive / baseline).

    * ROC-AUC: the chance line at 0.5 (dashed) and the equivalence region
      ``0.5 +- auc_margin`` (shaded).
    * R2: chance is the dummy baseline, whose cross-validated R2 is negative
      and differs between datasets, so the dashed line is drawn *per dataset
      group* at that dataset's dummy R2 (the ``baseline`` column, or the
      statistic of the baseline row), and the non-superiority region
      ``R2 < dummy + r2_margin`` is shaded from the left edge up to
      ``dummy + r2_margin``.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`study.inference.build_pvalue_table`.
    auc_margin : float, default: AUC_EQUIVALENCE_MARGIN
        Equivalence margin of the AUC around 0.5 (use the table's).
    r2_margin : float, default: R2_EQUIVALENCE_MARGIN
        Largest negligible R2 gain over the dummy (use the table's).
    synthetic : bool, default: False
        Mark the figure with a small "SYNTHETIC DATA" watermark.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`DOUBLE_COLUMN` wide.

    Raises
    ------
    ValueError
        If columns are missing or there is no ``roc_auc`` / ``r2`` primary row.
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError("`table` must be a pandas DataFrame from build_pvalue_table.")
    missing = [c for c in _FOREST_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"`table` lacks the columns {missing}.")
    if not isinstance(auc_margin, Real) or not 0 < auc_margin < 0.5:
        raise ValueError("`auc_margin` must be a number in (0, 0.5).")
    if not isinstance(r2_margin, Real) or not 0 < r2_margin < math.inf:
        raise ValueError("`r2_margin` must be a positive number.")
    primary = table[table["metric"] == table["task"].map(PRIMARY_METRICS)]
    panels = [m for m in ("roc_auc", "r2") if (primary["metric"] == m).any()]
    if not panels:
        raise ValueError("`table` has no primary roc_auc or r2 row.")
    n_rows = max(
        len(primary[primary["metric"] == m]) + primary.loc[primary["metric"] == m,
                                                            "dataset"].nunique()
        for m in panels
    )
    with style():
        fig = _new_figure(DOUBLE_COLUMN, 0.85 + 0.16 * n_rows)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, metric in zip(axes, panels, strict=True):
            sub = primary[primary["metric"] == metric]
            margin = auc_margin if metric == "roc_auc" else r2_margin
            _draw_forest(ax, sub, metric, margin, n_rows)
        handles = [
            Line2D(
                [], [], linestyle="none", marker=s["marker"], markersize=4.5,
                markerfacecolor=s["color"] if s["filled"] else "white",
                markeredgecolor=s["color"], markeredgewidth=0.9, label=name,
            )
            for name, s in _VERDICT_STYLES.items()
        ]
        handles += [
            Line2D([], [], color=OKABE_ITO["black"], linewidth=0.7, linestyle="--",
                   label="chance (AUC 0.5; dummy R²)"),
            Patch(facecolor=_LIGHT_GREY, edgecolor="none",
                  label="equivalence / non-superiority region"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
    return _finish(fig, synthetic)


def _draw_forest(ax, sub: pd.DataFrame, metric: str, margin: float, n_rows: int) -> None:
    ys, labels, headers = [], [], []
    y = 0.0
    values: list[float] = []
    groups: list[tuple[float, float, float]] = []  # (y_top, y_bottom, dummy value)
    for dataset in _unique(sub["dataset"]):
        rows = sub[sub["dataset"] == dataset]
        keys = [
            _model_rank(str(m), v == "baseline", i)
            for i, (m, v) in enumerate(zip(rows["model"], rows["verdict"], strict=True))
        ]
        rows = rows.iloc[sorted(range(len(rows)), key=keys.__getitem__)]
        ys.append(y)
        labels.append(dataset)
        headers.append(len(labels) - 1)
        y_top = y - 0.5
        for _, row in rows.iterrows():
            y -= 1.0
            ys.append(y)
            labels.append(_model_label(str(row["model"])))
            stat, lo, hi = float(row["statistic"]), float(row["ci_low"]), float(row["ci_high"])
            vstyle = _VERDICT_STYLES.get(str(row["verdict"]), _VERDICT_STYLES["inconclusive"])
            color = vstyle["color"]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [y, y], color=color, linewidth=1.0, solid_capstyle="butt",
                        zorder=3)
                values += [lo, hi]
            ax.plot(
                [stat], [y], linestyle="none", marker=vstyle["marker"], markersize=4.5,
                markerfacecolor=color if vstyle["filled"] else "white",
                markeredgecolor=color, markeredgewidth=0.9, zorder=4,
            )
            values.append(stat)
        if metric == "r2":
            base = rows.loc[rows["verdict"] != "baseline", "baseline"].dropna()
            if base.empty:
                base = rows.loc[rows["verdict"] == "baseline", "statistic"].dropna()
            if not base.empty:
                groups.append((y_top, y - 0.5, float(base.iloc[0])))
        y -= 1.4  # gap before the next dataset header

    if metric == "roc_auc":
        refs = [0.5 - margin, 0.5, 0.5 + margin]
    else:
        refs = [g[2] for g in groups] + [g[2] + margin for g in groups]
    finite = [v for v in values + refs if np.isfinite(v)]
    lo, hi = min(finite), max(finite)
    pad = 0.08 * (hi - lo) if hi > lo else 0.05
    xlim = (lo - pad, hi + pad)
    if metric == "roc_auc":
        ax.axvspan(0.5 - margin, 0.5 + margin, color=_LIGHT_GREY, linewidth=0, zorder=0)
        ax.axvline(0.5, color=OKABE_ITO["black"], linewidth=0.7, linestyle="--", zorder=1)
    else:
        for y_top, y_bottom, base in groups:
            ax.fill_betweenx([y_bottom, y_top], xlim[0] - 10 * (hi - lo + 1), base + margin,
                             color=_LIGHT_GREY, linewidth=0, zorder=0)
            ax.plot([base, base], [y_bottom, y_top], color=OKABE_ITO["black"], linewidth=0.7,
                    linestyle="--", zorder=1)
    ax.set_xlim(*xlim)
    # Every panel gets the same number of row slots so the two panels align.
    ax.set_ylim(-(n_rows + 0.4 * (len(headers) - 1)) + 0.4, 0.6)
    ax.set_yticks(ys, labels)
    for k in headers:
        ax.get_yticklabels()[k].set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.xaxis.set_major_locator(_nice_locator(5))
    ax.set_xlabel(f"Cross-validated {_metric_label(metric)}")


# --------------------------------------------------------------------------
# 3. ROC curves
# --------------------------------------------------------------------------


def _fold_roc_setup(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order (descending score) and the last position of every score tie group."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]
    return order, ends


def _interp_rows(grid: np.ndarray, fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Evaluate each row's ROC polyline on ``grid``, taking the upper end of
    vertical segments; rows of ``fpr``/``tpr`` are non-decreasing from 0 to 1.

    Vectorised over rows by shifting row ``b`` by ``2 b`` (all values lie in
    [0, 1]) and searching the flattened, still sorted, array once.
    """
    b, m = fpr.shape
    shift = 2.0 * np.arange(b)[:, np.newaxis]
    xp = (fpr + shift).ravel()
    x = (grid[np.newaxis, :] + shift).ravel()
    j = np.searchsorted(xp, x, side="right") - 1  # last point with fpr <= x
    j = j.reshape(b, -1) - (np.arange(b) * m)[:, np.newaxis]
    last = j >= m - 1
    jj = np.minimum(j, m - 2)
    rows = np.arange(b)[:, np.newaxis]
    x0, x1 = fpr[rows, jj], fpr[rows, jj + 1]
    y0, y1 = tpr[rows, jj], tpr[rows, jj + 1]
    denom = np.where(last, 1.0, x1 - x0)  # > 0 whenever not last
    t = np.where(last, 0.0, (grid[np.newaxis, :] - x0) / np.where(denom > 0, denom, 1.0))
    return np.where(last, tpr[:, -1:], y0 + t * (y1 - y0))


def _weighted_rocs(
    weights: np.ndarray, label: np.ndarray, order: np.ndarray, ends: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """TPR on ``grid`` for every weight row (NaN where a class has no weight)."""
    w = weights[:, order]
    pos = label[order] == 1
    tp = np.cumsum(w * pos, axis=1)[:, ends]
    fp = np.cumsum(w * ~pos, axis=1)[:, ends]
    n_pos, n_neg = tp[:, -1:], fp[:, -1:]
    ok = (n_pos[:, 0] > 0) & (n_neg[:, 0] > 0)
    out = np.full((weights.shape[0], grid.size), np.nan)
    if ok.any():
        zeros = np.zeros((int(ok.sum()), 1))
        tpr = np.hstack([zeros, tp[ok] / n_pos[ok]])
        fpr = np.hstack([zeros, fp[ok] / n_neg[ok]])
        out[ok] = _interp_rows(grid, fpr, tpr)
    return out


def mean_roc_curve(
    cv: CVResult,
    *,
    n_boot: int = 200,
    random_state: _Seed = 0,
    n_grid: int = 201,
    confidence_level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fold-averaged out-of-fold ROC curve with a pointwise bootstrap band.

    Each test fold's ROC curve (a polyline through the distinct thresholds,
    ties as diagonal segments) is evaluated on a common false-positive-rate
    grid and the curves are averaged over all ``n_repeats * n_splits`` folds:
    per-fold averaging, consistent with the per-fold AUC, so the area under
    the mean curve equals the mean fold AUC up to the grid resolution.

    The band is pointwise over bootstrap resamples drawn exactly as in
    :func:`study.intervals.bootstrap_cv` for ``roc_auc``: one multinomial
    resample of the rows, stratified by (class, test fold of repeat 0), with
    integer multiplicities shared by all repeats; each fold's curve is the
    weighted ROC of its test rows (a fold whose resampled rows lack a class is
    left out of that resample's average). Predictions are held fixed.

    Parameters
    ----------
    cv : CVResult
        A classification result (``oof`` holds probabilities or scores).
    n_boot : int, default: 200
        Bootstrap resamples; 0 gives no band (``low``/``high`` are NaN).
    random_state : int, SeedSequence, Generator or None, default: 0
        Seed of the resamples, as in ``bootstrap_cv``; the same seed on the
        same ``y`` and folds gives the same resamples for every model.
    n_grid : int, default: 201
        Number of grid points on [0, 1].
    confidence_level : float, default: 0.95
        Coverage of the pointwise band.

    Returns
    -------
    fpr : ndarray of shape (n_grid + 1,)
        ``[0, grid...]``: the curve starts at the origin.
    tpr, low, high : ndarray of shape (n_grid + 1,)
        Mean TPR over folds and the pointwise band bounds.
    """
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError("`n_boot` must be a non-negative integer.")
    if not isinstance(n_grid, (int, np.integer)) or n_grid < 2:
        raise ValueError("`n_grid` must be an integer >= 2.")
    if not 0 < confidence_level < 1:
        raise ValueError("`confidence_level` must lie strictly between 0 and 1.")
    y = np.asarray(cv.y)
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("`cv.y` must hold 0/1 labels: ROC curves need a classification result.")
    y = y.astype(np.int64)
    folds = np.asarray(cv.folds)
    oof = np.asarray(cv.oof, dtype=np.float64)
    grid = np.linspace(0.0, 1.0, int(n_grid))
    fold_list = _split_folds(folds)
    n = y.size

    weights = None
    if n_boot:
        strata = _strata("roc_auc", y, folds)
        rngs = _as_rng_list(random_state, len(strata))
        weights = _draw_weights(strata, rngs, n, int(n_boot))

    observed = np.zeros(grid.size)
    n_obs = 0
    total = np.zeros((int(n_boot), grid.size))
    count = np.zeros((int(n_boot), 1))
    for r, _, rows in fold_list:
        label, score = y[rows], oof[r, rows]
        order, ends = _fold_roc_setup(score, label)
        obs = _weighted_rocs(np.ones((1, rows.size)), label, order, ends, grid)[0]
        if np.all(np.isfinite(obs)):
            observed += obs
            n_obs += 1
        if weights is not None:
            boot = _weighted_rocs(weights[:, rows], label, order, ends, grid)
            ok = np.isfinite(boot[:, 0])
            total[ok] += boot[ok]
            count[ok] += 1
    if n_obs == 0:
        raise ValueError("no test fold has both classes; the ROC curve is undefined.")
    mean = observed / n_obs
    alpha = (1.0 - confidence_level) / 2.0
    if weights is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            curves = total / count
        low, high = np.nanquantile(curves, [alpha, 1.0 - alpha], axis=0)
    else:
        low = high = np.full(grid.size, np.nan)
    return (np.r_[0.0, grid], np.r_[0.0, mean], np.r_[0.0, low], np.r_[0.0, high])


def roc_curves(
    cells: Sequence[Cell | Mapping],
    *,
    n_boot: int = 200,
    random_state: _Seed = 0,
    synthetic: bool = False,
) -> Figure:
    """Out-of-fold ROC curves of the classification models, a panel per dataset.

    For every non-baseline classification cell: the fold-averaged ROC curve
    and its pointwise 95% bootstrap band (:func:`mean_roc_curve`), labelled
    with the mean fold AUC; the diagonal is the chance line. The dummy
    baseline is omitted (its curve is the diagonal).

    Parameters
    ----------
    cells : sequence of Cell or mapping
        The cells of the study; regression and baseline cells are ignored.
    n_boot : int, default: 200
        Bootstrap resamples of each band (0: no band).
    random_state : int, SeedSequence, Generator or None, default: 0
        Seed of the resamples; every model of a dataset gets the same seed,
        hence the same resamples of the same rows.
    synthetic : bool, default: False
        Mark the figure with a small "SYNTHETIC DATA" watermark.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`DOUBLE_COLUMN` wide, one square panel per dataset.

    Raises
    ------
    ValueError
        If there is no non-baseline classification cell.
    """
    cells = [
        c for c in _as_cells(cells)
        if c.task == "classification" and not c.is_baseline and c.cv.metric == "roc_auc"
    ]
    if not cells:
        raise ValueError("no non-baseline classification cell to draw.")
    datasets = _unique(c.dataset for c in cells)
    colors = _model_colors(_unique(c.model for c in cells))
    side = min(DOUBLE_COLUMN / len(datasets), 3.0)
    with style():
        fig = _new_figure(DOUBLE_COLUMN, side + 0.45)
        axes = fig.subplots(1, len(datasets), squeeze=False)[0]
        for ax, dataset in zip(axes, datasets, strict=True):
            ax.plot([0, 1], [0, 1], color=_GREY, linewidth=0.7, linestyle="--", label="chance")
            for c in _sorted_cells([c for c in cells if c.dataset == dataset]):
                fpr, tpr, low, high = mean_roc_curve(c.cv, n_boot=n_boot,
                                                     random_state=random_state)
                color = colors[c.model]
                if n_boot:
                    ax.fill_between(fpr, low, high, color=color, alpha=0.18, linewidth=0)
                ax.plot(fpr, tpr, color=color, linewidth=1.1,
                        label=f"{_model_label(c.model)} (AUC {c.cv.statistic:.3f})")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.xaxis.set_major_locator(mpl.ticker.MultipleLocator(0.25))
            ax.yaxis.set_major_locator(mpl.ticker.MultipleLocator(0.25))
            ax.set_xlabel("False positive rate")
            ax.set_ylabel("True positive rate")
            _panel_label(ax, f"{dataset} · classification")
            ax.legend(loc="lower right")
    return _finish(fig, synthetic)


# --------------------------------------------------------------------------
# 4. Fold scores against the baseline
# --------------------------------------------------------------------------


def fold_scores(cells: Sequence[Cell | Mapping], *, synthetic: bool = False) -> Figure:
    """Per-fold headline scores of each model against the dummy on the same folds.

    A panel per (dataset, task). For every non-baseline model: the
    ``n_repeats * n_splits`` fold scores of the dummy baseline (grey, left)
    and of the model (its colour, right), each with a box (median and
    quartiles, whiskers to 1.5 IQR), a thin line joining the two scores of
    the same fold, and the mean paired difference ``Δ`` under the model
    name. A dotted reference line marks AUC 0.5 or R2 0.

    Parameters
    ----------
    cells : sequence of Cell or mapping
        The cells of the study; baseline cells are used through
        ``baseline_cv`` of the model cells.
    synthetic : bool, default: False
        Mark the figure with a small "SYNTHETIC DATA" watermark.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`DOUBLE_COLUMN` wide, two panels per row.

    Raises
    ------
    ValueError
        If there is no non-baseline cell.
    """
    cells = [c for c in _as_cells(cells) if not c.is_baseline]
    if not cells:
        raise ValueError("no non-baseline cell to draw.")
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.dataset, c.task), []).append(c)
    groups = {k: _sorted_cells(v) for k, v in groups.items()}
    colors = _model_colors(_unique(c.model for c in cells))
    ncols = 1 if len(groups) == 1 else 2
    nrows = math.ceil(len(groups) / ncols)
    with style():
        fig = _new_figure(DOUBLE_COLUMN, 0.45 + 1.9 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, ((dataset, task), group) in zip(axes, groups.items(), strict=False):
            _draw_fold_scores(ax, group, colors)
            _panel_label(ax, f"{dataset} · {task}")
        for ax in axes[len(groups):]:
            ax.set_visible(False)
        handles = [
            Patch(facecolor=_LIGHT_GREY, edgecolor=_GREY, label="dummy baseline (same folds)"),
            Patch(facecolor="white", edgecolor=OKABE_ITO["black"], label="model"),
            Line2D([], [], color=_GREY, linewidth=0.5, label="one fold (paired)"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
    return _finish(fig, synthetic)


def _draw_fold_scores(ax, group: list[Cell], colors: Mapping[str, str]) -> None:
    metric = group[0].cv.metric
    half = 0.2
    segments = []
    ticks, labels = [], []
    for i, c in enumerate(group):
        model = np.asarray(c.cv.scores[c.cv.metric], dtype=np.float64).ravel()
        base = np.asarray(c.baseline_cv.scores[c.cv.metric], dtype=np.float64).ravel()
        xb, xm = i - half, i + half
        segments += [((xb, b), (xm, m)) for b, m in zip(base, model, strict=True)]
        color = colors[c.model]
        for x, vals, face, edge in (
            (xb, base, _LIGHT_GREY, _GREY),
            (xm, model, mpl.colors.to_rgba(color, 0.25), color),
        ):
            ax.boxplot(
                [vals], positions=[x], widths=0.22, showfliers=False, patch_artist=True,
                boxprops={"facecolor": face, "edgecolor": edge, "linewidth": 0.7},
                medianprops={"color": edge, "linewidth": 1.0},
                whiskerprops={"color": edge, "linewidth": 0.7},
                capprops={"color": edge, "linewidth": 0.7}, manage_ticks=False, zorder=2,
            )
            ax.scatter(np.full(vals.size, x), vals, s=3, color=edge, linewidths=0, zorder=3,
                       alpha=0.8)
        ticks.append(i)
        diff = float(np.mean(model - base))
        labels.append(f"{_model_label(c.model)}\nΔ = {_signed(diff)}")
    ax.add_collection(LineCollection(segments, colors=_GREY, linewidths=0.35, alpha=0.45,
                                     zorder=1))
    ax.axhline(0.5 if metric == "roc_auc" else 0.0, color=OKABE_ITO["black"], linewidth=0.6,
               linestyle=":", zorder=0)
    ax.set_xticks(ticks, labels)
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.6, len(group) - 0.4)
    ax.autoscale_view(scalex=False)
    ax.yaxis.set_major_locator(_nice_locator(5))
    ax.set_ylabel(f"Fold {_metric_label(metric)}")


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def _stem_path(stem: str | Path, suffix: str) -> Path:
    stem = Path(stem)
    return stem.with_name(stem.name + suffix)  # keep dots inside the stem


def save_figure(fig: Figure, path_stem: str | Path) -> list[Path]:
    """Write ``<stem>.pdf`` (vector) and ``<stem>.png`` (300 dpi) atomically.

    Both files are rendered into memory first and then written through a
    temporary sibling and :func:`os.replace` (:func:`study.io.atomic_write_bytes`),
    so an interrupted run never leaves a half-written figure. The output is
    deterministic: the PDF has no creation date and a fixed producer, the PNG
    no software tag, so two renders give identical bytes. Fonts are embedded
    as TrueType (Type 42), never Type 3.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path_stem : str or Path
        Output path without the extension; folders are created as needed.

    Returns
    -------
    list of Path
        ``[<stem>.pdf, <stem>.png]``.
    """
    if not isinstance(fig, Figure):
        raise ValueError("`fig` must be a matplotlib Figure.")
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    out = []
    with style():
        for fmt, metadata in (("pdf", _PDF_METADATA), ("png", _PNG_METADATA)):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=_DPI, metadata=dict(metadata))
            out.append(atomic_write_bytes(_stem_path(path_stem, f".{fmt}"), buf.getvalue()))
    return out


class FigureSpec(NamedTuple):
    """A figure of the report: the function drawing it and its caption template.

    ``caption.format(**fields)`` fills the placeholders (the :func:`render_all`
    call documents the fields); ``function`` takes the cells, except
    :func:`forest_plot` which takes the headline table.
    """

    function: Callable[..., Figure]
    caption: str


#: The report's figures: name to ``(function, caption template)``.
#: Placeholders: ``{n_repeats}``, ``{n_splits}``, ``{n_boot}``, ``{auc_margin}``,
#: ``{r2_margin}`` and ``{synthetic_note}`` (empty, or a sentence flagging demo data).
FIGURES: dict[str, FigureSpec] = {
    "permutation_nulls": FigureSpec(
        permutation_nulls,
        "Permutation null distributions of the cross-validated headline metric (mean over "
        "{n_repeats} repeats x {n_splits} folds; ROC-AUC for classification, R² for "
        "regression), one panel per dataset, task and model. Histogram: the statistic "
        "recomputed on permuted targets; vertical line: the observed statistic; text: the "
        "one-sided permutation p-value and the number of permutations evaluated (fewer than "
        "the budget when sequential stopping ended the test early).{synthetic_note}",
    ),
    "forest_plot": FigureSpec(
        forest_plot,
        "Cross-validated ROC-AUC (left) and R² (right) of every model with 95% bootstrap "
        "confidence intervals (out-of-fold predictions held fixed). Marker: verdict of the "
        "headline table (signal: Holm-adjusted permutation p < 0.05; practically null: "
        "equivalence test p < 0.05; otherwise inconclusive). Dashed line: chance (AUC 0.5; "
        "for R² the dummy baseline's cross-validated R² of each dataset). Shaded: the "
        "equivalence region 0.5 ± {auc_margin} for the AUC and the non-superiority region "
        "R² < dummy + {r2_margin} for R².{synthetic_note}",
    ),
    "roc_curves": FigureSpec(
        roc_curves,
        "Out-of-fold ROC curves of the classification models, averaged over the "
        "{n_repeats} x {n_splits} test folds on a common false-positive-rate grid, with "
        "pointwise 95% bootstrap bands ({n_boot} stratified resamples of the evaluation "
        "rows, predictions held fixed). Legend: mean fold AUC. Dashed diagonal: chance."
        "{synthetic_note}",
    ),
    "fold_scores": FigureSpec(
        fold_scores,
        "Per-fold scores of each model (right of each pair) and of the dummy baseline on the "
        "same folds (grey, left of each pair), {n_repeats} repeats x {n_splits} folds; thin "
        "lines join the two scores of a fold; boxes show the median and quartiles. Δ: mean "
        "paired difference model - dummy. Dotted line: AUC 0.5 or R² 0.{synthetic_note}",
    ),
}

#: Sentence appended to every caption by ``render_all(..., synthetic=True)``.
SYNTHETIC_NOTE = " Synthetic demonstration data: not a result of the study."


def render_all(
    cells: Sequence[Cell | Mapping],
    out_dir: str | Path,
    *,
    table: pd.DataFrame | None = None,
    n_boot: int = 200,
    random_state: _Seed = 0,
    auc_margin: float = AUC_EQUIVALENCE_MARGIN,
    r2_margin: float = R2_EQUIVALENCE_MARGIN,
    synthetic: bool = False,
) -> dict[str, tuple[list[Path], str]]:
    """Render every figure of :data:`FIGURES` into ``out_dir``.

    Parameters
    ----------
    cells : sequence of Cell or mapping
    out_dir : str or Path
        Folder of the ``<name>.pdf`` and ``<name>.png`` files.
    table : pandas.DataFrame, optional
        The headline table; built with :func:`build_pvalue_table` (with the
        given margins) when omitted.
    n_boot, random_state
        Passed to :func:`roc_curves`.
    auc_margin, r2_margin : float
        Equivalence margins of the forest plot (and of the table if built).
    synthetic : bool, default: False
        Watermark every figure and flag the captions as synthetic.

    Returns
    -------
    dict
        Name to ``(paths, caption)``. A figure with nothing to draw (e.g. no
        permutation result, no classification cell) is left out.
    """
    cells = _as_cells(cells)
    if not cells:
        raise ValueError("`cells` is empty.")
    if table is None:
        table = build_pvalue_table(cells, auc_margin=auc_margin, r2_margin=r2_margin)
    first = next((c for c in cells if not c.is_baseline), cells[0])
    fields = {
        "n_repeats": first.cv.n_repeats,
        "n_splits": first.cv.n_splits,
        "n_boot": n_boot,
        "auc_margin": auc_margin,
        "r2_margin": r2_margin,
        "synthetic_note": SYNTHETIC_NOTE if synthetic else "",
    }
    calls: dict[str, Callable[[], Figure]] = {
        "permutation_nulls": lambda: permutation_nulls(cells, synthetic=synthetic),
        "forest_plot": lambda: forest_plot(
            table, auc_margin=auc_margin, r2_margin=r2_margin, synthetic=synthetic
        ),
        "roc_curves": lambda: roc_curves(
            cells, n_boot=n_boot, random_state=random_state, synthetic=synthetic
        ),
        "fold_scores": lambda: fold_scores(cells, synthetic=synthetic),
    }
    drawable = {
        "permutation_nulls": any(c.perm is not None for c in cells),
        "forest_plot": bool(
            (table["metric"] == table["task"].map(PRIMARY_METRICS)).any()
            and table["metric"].isin(["roc_auc", "r2"]).any()
        ),
        "roc_curves": any(
            c.task == "classification" and not c.is_baseline and c.cv.metric == "roc_auc"
            for c in cells
        ),
        "fold_scores": any(not c.is_baseline for c in cells),
    }
    out: dict[str, tuple[list[Path], str]] = {}
    for name, spec in FIGURES.items():
        if not drawable[name]:
            continue
        fig = calls[name]()
        out[name] = (save_figure(fig, Path(out_dir) / name), spec.caption.format(**fields))
    return out
