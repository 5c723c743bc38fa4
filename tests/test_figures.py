"""Figures: rendered from fake saved results (no model fitting, no real data)."""

from __future__ import annotations

import itertools
import struct
from dataclasses import replace

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from study import figures
from study.figures import (
    DOUBLE_COLUMN,
    FIGURES,
    SINGLE_COLUMN,
    WATERMARK,
    fold_scores,
    forest_plot,
    format_pvalue,
    mean_roc_curve,
    permutation_nulls,
    render_all,
    roc_curves,
    save_figure,
    style,
)
from study.inference import Cell, build_pvalue_table
from study.intervals import bootstrap_cv
from study.results import CVResult, PermutationResult

MODELS = {
    "regression": ("ridge", "random_forest", "hist_gradient_boosting", "dummy"),
    "classification": ("logistic", "random_forest", "hist_gradient_boosting", "dummy"),
}
SIGNAL = {"ridge": 0.5, "logistic": 0.8, "random_forest": 0.3, "hist_gradient_boosting": 0.0}


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    ranks = stats.rankdata(s)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


def fake_cv(task, y, folds, oof) -> CVResult:
    """A CVResult whose fold scores are computed from the given predictions."""
    metric = "roc_auc" if task == "classification" else "r2"
    n_rep, k = folds.shape[0], int(folds.max()) + 1
    scores = np.empty((n_rep, k))
    n_test = np.empty((n_rep, k), dtype=int)
    for r in range(n_rep):
        for f in range(k):
            rows = folds[r] == f
            fn = _auc if metric == "roc_auc" else _r2
            scores[r, f] = fn(y[rows], oof[r, rows])
            n_test[r, f] = rows.sum()
    return CVResult(
        task=task,
        metric=metric,
        scores={metric: scores},
        y=y,
        folds=folds,
        oof=oof,
        fit_times=np.zeros((n_rep, k)),
        n_train=y.size - n_test,
        n_test=n_test,
    )


def _folds(y, task, n_repeats, n_splits, rng) -> np.ndarray:
    folds = np.empty((n_repeats, y.size), dtype=np.int64)
    for r in range(n_repeats):
        if task == "classification":  # stratified: every fold holds both classes
            for cls in (0, 1):
                idx = rng.permutation(np.flatnonzero(y == cls))
                folds[r, idx] = np.arange(idx.size) % n_splits
        else:
            folds[r, rng.permutation(y.size)] = np.arange(y.size) % n_splits
    return folds


def make_cells(
    *,
    n_repeats: int = 2,
    n_splits: int = 3,
    n: int = 60,
    n_perm: int = 99,
    n_boot: int = 99,
    seed: int = 0,
) -> list[Cell]:
    """Fake cells for both datasets and tasks, with permutation and bootstrap results."""
    rng = np.random.default_rng(seed)
    cells = []
    for dataset in ("trends", "popularity"):
        for task, models in MODELS.items():
            x = rng.normal(size=n)
            if task == "classification":
                y = (x + rng.normal(size=n) > 0).astype(np.int64)
            else:
                y = x + rng.normal(size=n)
            folds = _folds(y, task, n_repeats, n_splits, rng)
            base_oof = np.empty((n_repeats, n))
            for r in range(n_repeats):
                for f in range(n_splits):
                    rows = folds[r] == f
                    base_oof[r, rows] = 0.5 if task == "classification" else y[~rows].mean()
            baseline = fake_cv(task, y, folds, base_oof)
            for model in models:
                if model == "dummy":
                    cv = baseline
                else:
                    noise = rng.normal(size=(n_repeats, n))
                    raw = SIGNAL[model] * x + noise
                    oof = 1 / (1 + np.exp(-raw)) if task == "classification" else 0.4 * raw
                    cv = fake_cv(task, y, folds, oof)
                centre = 0.5 if task == "classification" else baseline.statistic
                null = centre + 0.05 * rng.standard_normal(n_perm)
                p = (1 + np.sum(null >= cv.statistic)) / (n_perm + 1)
                early = model == "hist_gradient_boosting"
                perm = PermutationResult(
                    statistic=cv.statistic,
                    pvalue=float(p),
                    pvalue_two_sided=float(min(1.0, 2 * p)),
                    null_distribution=null[: 40 if early else n_perm],
                    n_permutations=40 if early else n_perm,
                    stopped_early=early,
                )
                boot = bootstrap_cv(
                    y, cv.oof, folds, metric=cv.metric, n_resamples=n_boot, random_state=1
                )
                cells.append(
                    Cell(
                        dataset=dataset,
                        task=task,
                        model=model,
                        cv=cv,
                        baseline_cv=baseline,
                        perm=perm,
                        bootstrap={cv.metric: boot},
                        is_baseline=model == "dummy",
                    )
                )
    return cells


@pytest.fixture(scope="module")
def cells():
    return make_cells()


@pytest.fixture(scope="module")
def table(cells):
    return build_pvalue_table(cells)


@pytest.fixture(scope="module")
def rendered(cells, table):
    return {
        "permutation_nulls": lambda **kw: permutation_nulls(cells, **kw),
        "forest_plot": lambda **kw: forest_plot(table, **kw),
        "roc_curves": lambda **kw: roc_curves(cells, n_boot=50, **kw),
        "fold_scores": lambda **kw: fold_scores(cells, **kw),
    }


NAMES = ("permutation_nulls", "forest_plot", "roc_curves", "fold_scores")


@pytest.mark.parametrize("name", NAMES)
def test_render_save_deterministic(rendered, tmp_path, name):
    paths_a = save_figure(rendered[name](), tmp_path / "a" / name)
    paths_b = save_figure(rendered[name](), tmp_path / "b" / name)
    assert [p.name for p in paths_a] == [f"{name}.pdf", f"{name}.png"]
    for pa, pb in zip(paths_a, paths_b, strict=True):
        assert pa.exists() and pa.stat().st_size > 0
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between renders"
    pdf = paths_a[0].read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Type3" not in pdf
    assert b"/FontFile2" in pdf
    assert b"/CreationDate" not in pdf
    png = paths_a[1].read_bytes()
    assert png.startswith(b"\x89PNG")
    assert b"Software" not in png
    assert not list(tmp_path.rglob("*.tmp")), "temporary files left behind"


@pytest.mark.parametrize("name", NAMES)
def test_width_and_watermark(rendered, name):
    fig = rendered[name]()
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() == pytest.approx(DOUBLE_COLUMN)
    assert WATERMARK not in [t.get_text() for t in fig.texts]
    marked = rendered[name](synthetic=True)
    assert marked.get_figwidth() == pytest.approx(DOUBLE_COLUMN)
    assert WATERMARK in [t.get_text() for t in marked.texts]


def test_png_is_300_dpi(rendered, tmp_path):
    fig = rendered["forest_plot"]()
    _, png = save_figure(fig, tmp_path / "forest.v1")  # a dot inside the stem is kept
    assert png.name == "forest.v1.png"

    data = png.read_bytes()
    width = struct.unpack(">I", data[16:20])[0]
    assert width == round(DOUBLE_COLUMN * 300)


def test_no_titles_and_no_global_state(rendered):
    before = dict(mpl.rcParams)
    fig = rendered["permutation_nulls"]()
    assert fig._suptitle is None
    after = dict(mpl.rcParams)
    assert before.keys() == after.keys()
    assert all(str(before[k]) == str(after[k]) for k in before)


def test_style_constants():
    assert SINGLE_COLUMN == 3.5 and DOUBLE_COLUMN == 7.2
    with style():
        assert mpl.rcParams["pdf.fonttype"] == 42
        assert mpl.rcParams["ps.fonttype"] == 42
        assert not mpl.rcParams["axes.spines.top"]
        assert not mpl.rcParams["axes.spines.right"]
        assert 7 <= mpl.rcParams["font.size"] <= 9


def test_permutation_panels(cells):
    fig = permutation_nulls(cells)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == sum(c.perm is not None for c in cells)
    texts = " ".join(t.get_text() for ax in visible for t in ax.texts)
    assert "stopped early" in texts and "40 perm." in texts
    # cells without a permutation result are skipped

    fewer = [replace(c, perm=None) if c.model == "ridge" else c for c in cells]
    assert sum(ax.get_visible() for ax in permutation_nulls(fewer).axes) == len(visible) - 2
    with pytest.raises(ValueError, match="permutation"):
        permutation_nulls([replace(c, perm=None) for c in cells])


def test_format_pvalue():
    assert format_pvalue(0.0123) == "p = 0.012"
    assert format_pvalue(0.0009) == "p < 0.001"
    assert format_pvalue(0.001) == "p = 0.001"  # not truly below
    assert format_pvalue(1 / 1000.5) == "p < 0.001"
    assert format_pvalue(0.43) == "p = 0.43"
    assert format_pvalue(float("nan")) == "p = n/a"


def test_mean_roc_curve(cells):
    cell = next(c for c in cells if c.task == "classification" and c.model == "logistic")
    fpr, tpr, low, high = mean_roc_curve(cell.cv, n_boot=100, random_state=3)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == pytest.approx(1)
    assert np.all(np.diff(tpr) >= -1e-12)
    # per-fold averaging: the area under the mean curve is the mean fold AUC
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(cell.cv.statistic, abs=0.01)
    assert np.all(low <= tpr + 1e-12) and np.all(tpr <= high + 1e-12)
    assert np.any(high - low > 0)
    again = mean_roc_curve(cell.cv, n_boot=100, random_state=3)
    np.testing.assert_array_equal(low, again[2])
    # a perfect ranking gives the unit step
    y = cell.cv.y
    perfect = CVResult(
        task="classification",
        metric="roc_auc",
        scores=cell.cv.scores,
        y=y,
        folds=cell.cv.folds,
        oof=np.tile(y.astype(float), (2, 1)),
        fit_times=cell.cv.fit_times,
        n_train=cell.cv.n_train,
        n_test=cell.cv.n_test,
    )
    _, tpr_p, _, _ = mean_roc_curve(perfect, n_boot=0)
    np.testing.assert_allclose(tpr_p[1:], 1.0)


def test_roc_skips_regression_and_dummy(cells):
    fig = roc_curves(cells, n_boot=0)
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not any("Dummy" in s or "Ridge" in s for s in labels)
    assert any("Logistic" in s for s in labels)
    with pytest.raises(ValueError, match="classification"):
        roc_curves([c for c in cells if c.task == "regression"])


def test_forest_plot_panels(table):
    fig = forest_plot(table)
    assert len(fig.axes) == 2
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "trends" in ticks and "Logistic" in ticks and "Dummy" in ticks
    only_auc = forest_plot(table[table["metric"] == "roc_auc"])
    assert len(only_auc.axes) == 1
    with pytest.raises(ValueError, match="columns"):
        forest_plot(table.drop(columns="verdict"))


def test_fold_scores_panels(cells):
    fig = fold_scores(cells)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(labels) == 3 and all("Δ" in s for s in labels)


def test_registry_and_render_all(cells, table, tmp_path):
    assert set(FIGURES) == set(NAMES)
    for spec in FIGURES.values():
        function, caption = spec
        assert callable(function) and "{synthetic_note}" in caption
    trends = [c for c in cells if c.dataset == "trends"]  # one dataset keeps it quick
    out = render_all(trends, tmp_path, n_boot=20, synthetic=True)  # builds the table
    assert set(out) == set(NAMES)
    for paths, caption in out.values():
        assert all(p.exists() for p in paths)
        assert "Synthetic" in caption and "{" not in caption
    assert figures.SYNTHETIC_NOTE.strip() in out["roc_curves"][1]


@pytest.mark.parametrize("name", NAMES)
def test_watermark_and_labels_do_not_overlap(rendered, name):
    fig = rendered[name](synthetic=True)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    mark = next(t for t in fig.texts if t.get_text() == WATERMARK)
    box = mark.get_window_extent(renderer)
    others = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    others += [leg.get_window_extent(renderer) for leg in fig.legends]
    assert not any(box.overlaps(o) for o in others)
    # nothing is clipped at the figure edges
    page = fig.bbox
    for o in others:
        assert o.x0 >= page.x0 - 1 and o.x1 <= page.x1 + 1
        assert o.y0 >= page.y0 - 1 and o.y1 <= page.y1 + 1


@pytest.mark.parametrize("name", NAMES)
def test_tick_labels_do_not_overlap(rendered, name):
    fig = rendered[name]()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (a for a in fig.axes if a.get_visible()):
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            boxes = [
                t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()
            ]
            for a, b in itertools.pairwise(boxes):
                assert not a.overlaps(b), f"overlapping tick labels in {name}"
