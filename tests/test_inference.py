"""Tests of study.inference: corrected t, DeLong, TOST, multiplicity, the table."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from statsmodels.stats.multitest import multipletests

from study.inference import (
    Cell,
    adjust_pvalues,
    auc_equivalence,
    build_pvalue_table,
    compare_to_baseline,
    corrected_t_interval,
    corrected_t_test,
    delong_auc,
    delong_cv,
    r2_non_superiority,
    tost,
    verdict,
)
from study.intervals import bootstrap_cv
from study.results import CVResult, PermutationResult

# --------------------------------------------------------------------------
# helpers: synthetic CVResults scored like the compute stage does
# --------------------------------------------------------------------------

CLASSIFICATION = ("roc_auc", "accuracy", "brier", "log_loss")
REGRESSION = ("r2", "rmse", "mae")


def sk_metric(metric, y, p):
    return {
        "roc_auc": lambda: roc_auc_score(y, p),
        "accuracy": lambda: accuracy_score(y, (p > 0.5).astype(int)),
        "brier": lambda: brier_score_loss(y, p),
        "log_loss": lambda: log_loss(y, p, labels=[0, 1]),
        "r2": lambda: r2_score(y, p),
        "rmse": lambda: np.sqrt(mean_squared_error(y, p)),
        "mae": lambda: mean_absolute_error(y, p),
    }[metric]()


def stratified_folds(y, n_splits, rng):
    folds = np.empty(y.size, dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        folds[rng.permutation(idx)] = np.arange(idx.size) % n_splits
    return folds


def make_cv(task, y, oof, folds):
    metrics = CLASSIFICATION if task == "classification" else REGRESSION
    n_repeats, n = folds.shape
    n_splits = int(folds.max()) + 1
    scores = {m: np.empty((n_repeats, n_splits)) for m in metrics}
    n_test = np.empty((n_repeats, n_splits), dtype=int)
    for r in range(n_repeats):
        for k in range(n_splits):
            rows = folds[r] == k
            n_test[r, k] = rows.sum()
            for m in metrics:
                scores[m][r, k] = sk_metric(m, y[rows], oof[r, rows])
    return CVResult(
        task=task,
        metric=metrics[0],
        scores=scores,
        y=y,
        folds=folds,
        oof=oof,
        fit_times=np.zeros((n_repeats, n_splits)),
        n_train=n - n_test,
        n_test=n_test,
    )


def dummy_oof(y, folds):
    """Training-fold mean of y: the prior of DummyClassifier / mean of DummyRegressor."""
    oof = np.empty(folds.shape)
    for r in range(folds.shape[0]):
        for k in np.unique(folds[r]):
            rows = folds[r] == k
            oof[r, rows] = y[~rows].mean()
    return oof


def classification_task(rng, n=300, n_repeats=2, n_splits=5):
    y = (rng.random(n) < 0.4).astype(int)
    folds = np.array([stratified_folds(y, n_splits, rng) for _ in range(n_repeats)])
    return y, folds


def regression_task(rng, n=300, n_repeats=2, n_splits=5):
    y = rng.normal(size=n)
    folds = np.array([rng.permutation(np.arange(n) % n_splits) for _ in range(n_repeats)])
    return y, folds


def calibrated_oof(rng, y, shape, d=1.5):
    """Posterior P(y = 1 | s) for scores s ~ N(d y, 1): a well-calibrated model."""
    s = rng.normal(size=shape) + d * y
    prior = np.log(y.mean() / (1 - y.mean()))
    return 1 / (1 + np.exp(-(prior + d * s - d**2 / 2)))


def perm_for(cv, p):
    return PermutationResult(
        statistic=cv.statistic,
        pvalue=p,
        pvalue_two_sided=min(1.0, 2 * p),
        null_distribution=np.zeros(99),
        n_permutations=99,
        stopped_early=False,
    )


def with_scores(cv, metric, values):
    return replace(cv, scores={**cv.scores, metric: np.asarray(values, dtype=float)})


# --------------------------------------------------------------------------
# Nadeau-Bengio corrected resampled t
# --------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_uncorrected_t_matches_ttest_1samp(alternative):
    rng = np.random.default_rng(0)
    scores = rng.normal(0.52, 0.03, size=10)  # R = 1, K = 10
    res = corrected_t_test(
        scores, n_train=900, n_test=100, null=0.5, alternative=alternative, corrected=False
    )
    ref = stats.ttest_1samp(scores, 0.5, alternative=alternative)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.pvalue == pytest.approx(ref.pvalue)
    assert res.df == ref.df == 9
    t, p = res  # unpacks like scipy's result
    assert (t, p) == (res.statistic, res.pvalue)


def test_uncorrected_interval_matches_ttest_1samp():
    rng = np.random.default_rng(1)
    scores = rng.normal(0.1, 0.05, size=(1, 10))
    res = corrected_t_interval(
        scores, n_train=900, n_test=100, confidence_level=0.9, corrected=False
    )
    ref = stats.ttest_1samp(scores.ravel(), 0.0).confidence_interval(0.9)
    assert (res.low, res.high) == pytest.approx((ref.low, ref.high))
    mean, low, high = res
    assert (mean, low, high) == (res.mean, res.low, res.high)
    assert mean == pytest.approx(scores.mean())


@pytest.mark.parametrize(("n_repeats", "n_splits"), [(1, 5), (1, 10), (3, 5), (10, 10)])
def test_corrected_interval_is_wider_by_the_exact_factor(n_repeats, n_splits):
    rng = np.random.default_rng(2)
    n = 1000
    n_test = n // n_splits
    n_train = n - n_test
    scores = rng.normal(0.55, 0.02, size=(n_repeats, n_splits))
    j = n_repeats * n_splits
    corr = corrected_t_interval(scores, n_train=n_train, n_test=n_test)
    naive = corrected_t_interval(scores, n_train=n_train, n_test=n_test, corrected=False)
    factor = math.sqrt((1 / j + n_test / n_train) / (1 / j))
    assert (corr.high - corr.low) / (naive.high - naive.low) == pytest.approx(factor)
    assert corr.mean == naive.mean == pytest.approx(scores.mean())
    assert corr.df == j - 1
    t_c = corrected_t_test(scores, n_train=n_train, n_test=n_test, null=0.5)
    t_u = corrected_t_test(scores, n_train=n_train, n_test=n_test, null=0.5, corrected=False)
    assert t_u.statistic / t_c.statistic == pytest.approx(factor)
    assert t_c.pvalue > t_u.pvalue


def test_corrected_t_accepts_per_fold_sizes():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(2, 4))
    n_test = np.array([[25, 25, 25, 25], [25, 25, 25, 25]])
    a = corrected_t_test(scores, n_train=75, n_test=25, alternative="two-sided")
    b = corrected_t_test(scores, n_train=100 - n_test, n_test=n_test, alternative="two-sided")
    assert a.statistic == pytest.approx(b.statistic)
    assert a.pvalue == pytest.approx(b.pvalue)
    # the variance factor uses the mean ratio n_test / n_train
    uneven = np.array([[20, 30, 25, 25], [25, 25, 25, 25]])
    c = corrected_t_interval(scores, n_train=100 - uneven, n_test=uneven)
    ratio = np.mean(uneven / (100 - uneven))
    assert c.se == pytest.approx(np.std(scores, ddof=1) * math.sqrt(1 / 8 + ratio))


def test_corrected_t_with_zero_variance():
    same = np.full(10, 0.01)
    res = corrected_t_test(same, n_train=90, n_test=10)
    assert res.statistic == math.inf and res.pvalue == 0.0
    res = corrected_t_test(np.zeros(10), n_train=90, n_test=10)
    assert res.statistic == 0.0 and res.pvalue == 1.0
    ci = corrected_t_interval(same, n_train=90, n_test=10)
    assert ci.low == ci.high == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"diffs": [0.1]}, "scores"),
        ({"diffs": [0.1, np.nan, 0.2]}, "scores"),
        ({"n_train": 0}, "n_train"),
        ({"n_test": -1}, "n_test"),
        ({"n_train": [90, 90]}, "n_train"),
        ({"alternative": "bigger"}, "alternative"),
        ({"null": math.nan}, "null"),
    ],
)
def test_corrected_t_validation(kwargs, name):
    args = {"diffs": [0.1, 0.2, 0.3], "n_train": 90, "n_test": 10, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`"):
        corrected_t_test(**args)


def test_corrected_interval_validation():
    with pytest.raises(ValueError, match="`confidence_level`"):
        corrected_t_interval([0.1, 0.2], n_train=9, n_test=1, confidence_level=95)


# --------------------------------------------------------------------------
# model versus baseline
# --------------------------------------------------------------------------


def test_compare_to_baseline_is_the_paired_corrected_t():
    rng = np.random.default_rng(4)
    y, folds = classification_task(rng)
    model = make_cv("classification", y, calibrated_oof(rng, y, folds.shape), folds)
    dummy = make_cv("classification", y, dummy_oof(y, folds), folds)
    comp = compare_to_baseline(model, dummy)
    diffs = model.scores["roc_auc"] - dummy.scores["roc_auc"]
    ref = corrected_t_test(diffs, n_train=model.n_train, n_test=model.n_test)
    assert comp.diff == pytest.approx(diffs.mean())
    assert comp.baseline == pytest.approx(0.5)  # a constant score has AUC 1/2
    assert comp.pvalue == pytest.approx(ref.pvalue)
    assert comp.pvalue < 0.01  # a real signal
    ci = corrected_t_interval(diffs, n_train=model.n_train, n_test=model.n_test)
    assert (comp.ci_low, comp.ci_high) == pytest.approx((ci.low, ci.high))
    # lower is better for the Brier score: "model better" means a negative diff
    brier = compare_to_baseline(model, dummy, metric="brier")
    assert not brier.greater_is_better
    assert brier.diff < 0
    assert brier.pvalue == pytest.approx(
        corrected_t_test(
            model.scores["brier"] - dummy.scores["brier"],
            n_train=model.n_train,
            n_test=model.n_test,
            alternative="less",
        ).pvalue
    )


def test_compare_to_baseline_requires_identical_folds():
    rng = np.random.default_rng(5)
    y, folds = regression_task(rng, n=100)
    model = make_cv("regression", y, 0.3 * y + rng.normal(size=folds.shape), folds)
    other = folds[:, ::-1].copy()
    dummy = make_cv("regression", y, dummy_oof(y, other), other)
    with pytest.raises(ValueError, match="identical folds"):
        compare_to_baseline(model, dummy)
    shifted = make_cv("regression", y + 1, dummy_oof(y + 1, folds), folds)
    with pytest.raises(ValueError, match="target"):
        compare_to_baseline(model, shifted)
    with pytest.raises(ValueError, match="`metric`"):
        compare_to_baseline(model, model, metric="roc_auc")


def test_dummy_r2_is_negative_so_r2_must_be_tested_against_the_dummy():
    rng = np.random.default_rng(6)
    y, folds = regression_task(rng, n=200, n_repeats=3)
    dummy = make_cv("regression", y, dummy_oof(y, folds), folds)
    assert np.all(dummy.scores["r2"] < 0)  # predicting the training mean
    # a model that is the dummy plus negligible noise is no better than it
    near = make_cv("regression", y, dummy.oof + 1e-6 * rng.normal(size=folds.shape), folds)
    assert compare_to_baseline(near, dummy).pvalue > 0.05


# --------------------------------------------------------------------------
# DeLong
# --------------------------------------------------------------------------


def brute_force_delong(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = np.array([[1.0 if p > q else 0.5 if p == q else 0.0 for q in neg] for p in pos])
    v10 = np.array([psi[i, :].mean() for i in range(pos.size)])
    v01 = np.array([psi[:, j].mean() for j in range(neg.size)])
    auc = psi.sum() / (pos.size * neg.size)
    s10 = sum((v - auc) ** 2 for v in v10) / (pos.size - 1)
    s01 = sum((v - auc) ** 2 for v in v01) / (neg.size - 1)
    return auc, s10 / pos.size + s01 / neg.size


@pytest.mark.parametrize("ties", [False, True])
def test_delong_matches_sklearn_and_brute_force(ties):
    rng = np.random.default_rng(7)
    y = (rng.random(80) < 0.45).astype(int)
    s = rng.normal(size=80) + 0.7 * y
    if ties:
        s = np.round(s)
    auc, var = delong_auc(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    ref_auc, ref_var = brute_force_delong(y, s)
    assert auc == pytest.approx(ref_auc, abs=1e-12)
    assert var == pytest.approx(ref_var, rel=1e-10)


def test_delong_hanley_mcneil_radiology_example():
    # Hanley & McNeil (1982), Table 1: 58 normal and 51 abnormal patients rated 1-5.
    ratings = np.arange(1, 6)
    normal = np.repeat(ratings, [33, 6, 6, 11, 2])
    abnormal = np.repeat(ratings, [3, 2, 2, 11, 33])
    y = np.r_[np.zeros(normal.size, dtype=int), np.ones(abnormal.size, dtype=int)]
    s = np.r_[normal, abnormal].astype(float)
    auc, var = delong_auc(y, s)
    assert round(auc, 4) == 0.8932  # the published area
    ref_auc, ref_var = brute_force_delong(y, s)
    assert auc == pytest.approx(ref_auc)
    assert var == pytest.approx(ref_var, rel=1e-10)
    # The DeLong SE is checked against the independent brute-force placement
    # computation above; its value 0.0307 (quoted in the brief) agrees. It is
    # not Hanley & McNeil's own SE, which uses their exponential approximation.
    assert math.sqrt(ref_var) == pytest.approx(0.0307, abs=5e-5)


def test_delong_validation():
    with pytest.raises(ValueError, match="two positives"):
        delong_auc([0, 0, 1, 0], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="`y`"):
        delong_auc([0, 2, 1, 1], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="`score`"):
        delong_auc([0, 0, 1, 1], [0.1, np.nan, 0.3, 0.4])


def test_delong_cv_combines_folds_and_repeats():
    rng = np.random.default_rng(8)
    y, folds = classification_task(rng, n=200, n_repeats=3, n_splits=4)
    oof = calibrated_oof(rng, y, folds.shape, d=0.3)
    res = delong_cv(y, oof, folds)
    per_repeat_auc, per_repeat_var = [], []
    for r in range(3):
        fold_stats = [delong_auc(y[folds[r] == k], oof[r, folds[r] == k]) for k in range(4)]
        per_repeat_auc.append(np.mean([a for a, _ in fold_stats]))
        per_repeat_var.append(sum(v for _, v in fold_stats) / 16)
    assert res.auc == pytest.approx(np.mean(per_repeat_auc))
    assert res.variance == pytest.approx(np.mean(per_repeat_var))
    z = (res.auc - 0.5) / math.sqrt(res.variance)
    assert res.statistic == pytest.approx(z)
    assert res.pvalue == pytest.approx(stats.norm.sf(z))
    assert res.pvalue_two_sided == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert res.fold_auc.shape == (3, 4)
    assert res.auc == pytest.approx(make_cv("classification", y, oof, folds).statistic)


def test_delong_cv_is_not_anticonservative_under_the_null():
    rng = np.random.default_rng(9)
    n_sim = 400
    rejections = 0
    for _ in range(n_sim):
        y, folds = classification_task(rng, n=200, n_repeats=1, n_splits=5)
        rejections += delong_cv(y, rng.normal(size=folds.shape), folds).pvalue < 0.05
    assert stats.binomtest(rejections, n_sim, 0.05, alternative="greater").pvalue > 0.001


def test_delong_cv_edge_cases():
    rng = np.random.default_rng(10)
    y, folds = classification_task(rng, n=100, n_repeats=2)
    const = delong_cv(y, np.full(folds.shape, 0.4), folds)
    assert const.auc == 0.5 and const.variance == 0.0
    assert const.pvalue == 0.5 and const.pvalue_two_sided == 1.0
    bad = folds.copy()
    bad[1, y == 1] = 0  # every positive of repeat 1 in fold 0
    with pytest.raises(ValueError, match="fold 1 of repeat 1"):
        delong_cv(y, rng.random(folds.shape), bad)


# --------------------------------------------------------------------------
# TOST
# --------------------------------------------------------------------------


def test_tost_is_the_max_of_two_one_sided_t_tests():
    res = tost(0.505, 0.004, 19, low=0.48, high=0.52)
    p_low = stats.t.sf((0.505 - 0.48) / 0.004, 19)
    p_high = stats.t.cdf((0.505 - 0.52) / 0.004, 19)
    assert res.p_low == pytest.approx(p_low)
    assert res.p_high == pytest.approx(p_high)
    assert res.pvalue == pytest.approx(max(p_low, p_high))


def test_tost_equals_ninety_percent_interval_inside_the_bounds():
    rng = np.random.default_rng(11)
    agree = 0
    for _ in range(2000):
        est = rng.uniform(-0.05, 0.05)
        se = rng.uniform(0.001, 0.03)
        df = int(rng.integers(2, 60))
        half = rng.uniform(0.005, 0.06)
        res = tost(est, se, df, low=-half, high=half)
        crit = stats.t.ppf(0.95, df)
        inside = -half < est - crit * se and est + crit * se < half
        assert (res.pvalue < 0.05) == inside
        agree += inside
    assert 100 < agree < 1900  # both outcomes were exercised


def test_tost_non_superiority_with_infinite_lower_bound():
    res = tost(-0.3, 0.01, 9, low=-np.inf, high=0.01)
    assert res.p_low == 0.0
    assert res.pvalue == pytest.approx(stats.t.cdf((-0.3 - 0.01) / 0.01, 9))
    assert res.pvalue < 1e-6  # far worse than the margin is "practically null"
    assert tost(0.02, 0.01, 9, low=-np.inf, high=0.01).pvalue > 0.5


def test_tost_zero_se_and_validation():
    assert tost(0.5, 0.0, 9, low=0.48, high=0.52).pvalue == 0.0
    assert tost(0.52, 0.0, 9, low=0.48, high=0.52).pvalue == 1.0
    with pytest.raises(ValueError, match="`se`"):
        tost(0.5, -1.0, 9, low=0.4, high=0.6)
    with pytest.raises(ValueError, match="`df`"):
        tost(0.5, 0.1, 0, low=0.4, high=0.6)
    with pytest.raises(ValueError, match="`low`"):
        tost(0.5, 0.1, 9, low=0.6, high=0.4)


def test_equivalence_helpers_use_the_corrected_fold_level_se():
    rng = np.random.default_rng(12)
    y, folds = classification_task(rng)
    cv = make_cv("classification", y, rng.random(folds.shape), folds)
    res = auc_equivalence(cv, margin=0.05)
    ci = corrected_t_interval(cv.scores["roc_auc"], n_train=cv.n_train, n_test=cv.n_test)
    assert (res.low, res.high) == (0.45, 0.55)
    assert res.se == pytest.approx(ci.se) and res.df == ci.df == 9
    assert res.estimate == pytest.approx(cv.statistic)

    ry, rfolds = regression_task(rng)
    dummy = make_cv("regression", ry, dummy_oof(ry, rfolds), rfolds)
    model = make_cv("regression", ry, dummy.oof + 0.05 * rng.normal(size=rfolds.shape), rfolds)
    res = r2_non_superiority(model, dummy, margin=0.01)
    comp = compare_to_baseline(model, dummy)
    assert res.low == -np.inf and res.high == 0.01
    assert res.estimate == pytest.approx(comp.diff) and res.se == pytest.approx(comp.se)
    assert res.pvalue == pytest.approx(stats.t.cdf((comp.diff - 0.01) / comp.se, comp.df))


# --------------------------------------------------------------------------
# multiplicity and verdict
# --------------------------------------------------------------------------


def test_adjust_pvalues_by_hand_and_against_statsmodels():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04,
    # then a running maximum -> 0.02, 0.03, 0.06, 0.06.
    np.testing.assert_allclose(adjust_pvalues(p, method="holm"), [0.03, 0.06, 0.06, 0.02])
    # BH: sorted p times 4 / rank -> 0.02, 0.02, 0.04, 0.04, running minimum from the top.
    np.testing.assert_allclose(adjust_pvalues(p, method="fdr_bh"), [0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(13)
    q = rng.random(12) ** 3
    for method in ("holm", "fdr_bh"):
        np.testing.assert_allclose(
            adjust_pvalues(q, method=method), multipletests(q, method=method)[1]
        )


def test_adjust_pvalues_leaves_nan_out_of_the_family():
    p = np.array([0.01, np.nan, 0.04])
    got = adjust_pvalues(p, method="holm")
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2]], [0.02, 0.04])
    assert np.all(np.isnan(adjust_pvalues([np.nan, np.nan])))
    with pytest.raises(ValueError, match="`method`"):
        adjust_pvalues(p, method="bonferroni-ish")
    with pytest.raises(ValueError, match="`pvalues`"):
        adjust_pvalues([0.5, 1.5])


@pytest.mark.parametrize(
    ("p_holm", "p_tost", "expected"),
    [
        (0.001, np.nan, "signal"),
        (0.001, 0.001, "signal"),  # significant, and also within the margin
        (0.049, 0.9, "signal"),
        (0.05, 0.001, "practically null"),  # p == alpha is not significant
        (np.nan, 0.01, "practically null"),
        (0.3, 0.05, "inconclusive"),
        (0.3, 0.2, "inconclusive"),
        (np.nan, np.nan, "inconclusive"),
    ],
)
def test_verdict(p_holm, p_tost, expected):
    assert verdict(p_holm, p_tost, alpha=0.05) == expected


def test_verdict_alpha():
    assert verdict(0.08, 0.5, alpha=0.1) == "signal"
    with pytest.raises(ValueError, match="`alpha`"):
        verdict(0.01, 0.01, alpha=1.5)


# --------------------------------------------------------------------------
# headline table
# --------------------------------------------------------------------------

COLUMNS = [
    "dataset",
    "task",
    "model",
    "metric",
    "statistic",
    "ci_low",
    "ci_high",
    "baseline",
    "diff_vs_baseline",
    "p_vs_baseline",
    "p_perm",
    "p_perm_two_sided",
    "p_holm",
    "q_bh",
    "p_delong",
    "p_tost",
    "verdict",
    "n_permutations",
]
TESTS = ["p_perm", "p_perm_two_sided", "p_holm", "q_bh", "p_delong", "p_tost", "n_permutations"]


@pytest.fixture(scope="module")
def cells():
    rng = np.random.default_rng(14)
    y, folds = classification_task(rng)
    c_dummy = make_cv("classification", y, dummy_oof(y, folds), folds)
    logit = make_cv("classification", y, calibrated_oof(rng, y, folds.shape, d=1.0), folds)
    rf = make_cv("classification", y, rng.random(folds.shape), folds)
    ry, rfolds = regression_task(rng)
    r_dummy = make_cv("regression", ry, dummy_oof(ry, rfolds), rfolds)
    ridge = make_cv("regression", ry, 0.05 * rng.normal(size=rfolds.shape), rfolds)

    def boot(cv, metric):
        return bootstrap_cv(cv.y, cv.oof, cv.folds, metric=metric, n_resamples=199, random_state=0)

    return [
        Cell(
            "trends",
            "classification",
            "dummy",
            c_dummy,
            c_dummy,
            perm_for(c_dummy, 1.0),
            {"roc_auc": boot(c_dummy, "roc_auc")},
        ),
        Cell(
            "trends",
            "classification",
            "logit",
            logit,
            c_dummy,
            perm_for(logit, 0.001),
            {"roc_auc": boot(logit, "roc_auc"), "brier": boot(logit, "brier")},
        ),
        Cell(
            "trends",
            "classification",
            "rf",
            rf,
            c_dummy,
            perm_for(rf, 0.03),
            {"roc_auc": boot(rf, "roc_auc")},
        ),
        Cell("popularity", "regression", "dummy", r_dummy, None, None, {}, is_baseline=True),
        Cell(
            "popularity",
            "regression",
            "ridge",
            ridge,
            r_dummy,
            perm_for(ridge, 0.2),
            {"r2": boot(ridge, "r2")},
        ),
    ]


def test_table_columns_rows_and_order(cells):
    table = build_pvalue_table(cells)
    assert list(table.columns) == COLUMNS
    assert len(table) == 3 * 4 + 2 * 3
    assert list(table["dataset"]) == ["trends"] * 12 + ["popularity"] * 6
    assert list(table["model"][:12]) == ["dummy"] * 4 + ["logit"] * 4 + ["rf"] * 4
    assert list(table["metric"][:4]) == ["roc_auc", "accuracy", "brier", "log_loss"]
    assert list(table["metric"][12:15]) == ["r2", "rmse", "mae"]
    pd.testing.assert_frame_equal(table, build_pvalue_table(cells))  # deterministic


def test_table_numbers(cells):
    table = build_pvalue_table(cells).set_index(["dataset", "model", "metric"])
    by_model = {c.model: c for c in cells}
    family = [
        ("trends", "logit", "roc_auc"),
        ("trends", "rf", "roc_auc"),
        ("popularity", "ridge", "r2"),
    ]
    p = np.array([0.001, 0.03, 0.2])
    np.testing.assert_allclose(table.loc[family, "p_perm"], p)
    np.testing.assert_allclose(table.loc[family, "p_holm"], multipletests(p, method="holm")[1])
    np.testing.assert_allclose(table.loc[family, "q_bh"], multipletests(p, method="fdr_bh")[1])
    np.testing.assert_allclose(table.loc[family, "n_permutations"], 99)
    for key in family:
        row = table.loc[key]
        assert row["verdict"] == verdict(row["p_holm"], row["p_tost"])
    assert table.loc[("trends", "logit", "roc_auc"), "verdict"] == "signal"

    logit = by_model["logit"]
    row = table.loc[("trends", "logit", "roc_auc")]
    assert row["statistic"] == pytest.approx(logit.cv.statistic)
    assert row["ci_low"] == logit.bootstrap["roc_auc"].ci_low
    assert row["baseline"] == pytest.approx(0.5)
    comp = compare_to_baseline(logit.cv, logit.baseline_cv)
    assert row["diff_vs_baseline"] == pytest.approx(comp.diff)
    assert row["p_vs_baseline"] == pytest.approx(comp.pvalue)
    assert row["p_delong"] == pytest.approx(
        delong_cv(logit.cv.y, logit.cv.oof, logit.cv.folds).pvalue
    )
    assert row["p_tost"] == pytest.approx(auc_equivalence(logit.cv).pvalue)
    ridge = by_model["ridge"]
    row = table.loc[("popularity", "ridge", "r2")]
    assert np.isnan(row["p_delong"])
    assert row["p_tost"] == pytest.approx(r2_non_superiority(ridge.cv, ridge.baseline_cv).pvalue)

    brier = table.loc[("trends", "logit", "brier")]
    assert brier["ci_high"] == logit.bootstrap["brier"].ci_high
    assert brier["p_vs_baseline"] == pytest.approx(
        compare_to_baseline(logit.cv, logit.baseline_cv, metric="brier").pvalue
    )
    assert np.isnan(table.loc[("trends", "logit", "accuracy"), "ci_low"])  # no bootstrap


def test_table_secondary_and_baseline_rows(cells):
    table = build_pvalue_table(cells)
    primary = table["metric"].isin(["roc_auc", "r2"])
    dummy = table["model"] == "dummy"
    secondary = table[~primary]
    assert secondary[TESTS].isna().all().all()
    assert (secondary["verdict"] == "").all()
    assert secondary.loc[~dummy, "p_vs_baseline"].notna().all()
    base = table[primary & dummy]
    assert list(base["verdict"]) == ["baseline", "baseline"]
    cols = ["baseline", "diff_vs_baseline", "p_vs_baseline", "p_holm", "q_bh", "p_delong", "p_tost"]
    assert base[cols].isna().all().all()
    assert base["p_perm"].iloc[0] == 1.0  # raw permutation p shown, not in the family
    assert np.isnan(base["p_perm"].iloc[1])  # no permutation test supplied
    assert set(table.loc[primary & ~dummy, "verdict"]) <= {
        "signal",
        "practically null",
        "inconclusive",
    }


def test_table_accepts_mappings_and_keeps_first_appearance_order(cells):
    as_maps = [
        {
            f: getattr(c, f)
            for f in (
                "dataset",
                "task",
                "model",
                "cv",
                "baseline_cv",
                "perm",
                "bootstrap",
                "is_baseline",
            )
        }
        for c in cells
    ]
    pd.testing.assert_frame_equal(build_pvalue_table(as_maps), build_pvalue_table(cells))
    shuffled = [cells[4], cells[1], cells[3], cells[0], cells[2]]
    table = build_pvalue_table(shuffled)
    assert list(table["dataset"].unique()) == ["popularity", "trends"]
    # model order is that of first appearance: ridge, logit, dummy, rf
    assert list(table["model"].unique()) == ["ridge", "dummy", "logit", "rf"]
    assert list(table.loc[table["dataset"] == "trends", "model"].unique()) == [
        "logit",
        "dummy",
        "rf",
    ]


def test_table_verdicts_from_constructed_scores(cells):
    rng = np.random.default_rng(15)
    logit = cells[1]
    base = logit.baseline_cv
    # fold AUCs tightly around 0.5: equivalent to chance within +-0.02
    null_cv = with_scores(logit.cv, "roc_auc", 0.5 + 0.001 * rng.standard_normal((2, 5)))
    # fold AUCs spread widely around 0.5: neither signal nor equivalence
    vague_cv = with_scores(logit.cv, "roc_auc", 0.5 + 0.08 * rng.standard_normal((2, 5)))
    ridge = cells[4]
    r_base = ridge.baseline_cv
    # an R2 slightly *below* the dummy's: practically null (non-superiority)
    worse = with_scores(
        ridge.cv, "r2", r_base.scores["r2"] - 0.002 + 1e-4 * rng.standard_normal((2, 5))
    )
    table = build_pvalue_table(
        [
            Cell("d", "classification", "null", null_cv, base, perm_for(null_cv, 0.6)),
            Cell("d", "classification", "vague", vague_cv, base, perm_for(vague_cv, 0.5)),
            Cell("d", "classification", "strong", logit.cv, base, perm_for(logit.cv, 1e-4)),
            Cell("d", "regression", "worse", worse, r_base, perm_for(worse, 0.9)),
            Cell("d", "regression", "untested", worse, r_base, None),
        ]
    )
    primary = table[table["metric"].isin(["roc_auc", "r2"])].set_index("model")
    assert primary.loc["null", "verdict"] == "practically null"
    assert primary.loc["vague", "verdict"] == "inconclusive"
    assert primary.loc["strong", "verdict"] == "signal"
    assert primary.loc["worse", "verdict"] == "practically null"
    # no permutation test: not in the Holm family, verdict from the TOST alone
    assert np.isnan(primary.loc["untested", "p_holm"])
    assert primary.loc["untested", "verdict"] == "practically null"
    np.testing.assert_allclose(
        primary.loc[["null", "vague", "strong", "worse"], "p_holm"],
        multipletests([0.6, 0.5, 1e-4, 0.9], method="holm")[1],
    )
    # wider margins make equivalence easier to show
    wide = build_pvalue_table(
        [Cell("d", "classification", "vague", vague_cv, base, None)], auc_margin=0.3
    )
    assert wide["p_tost"].iloc[0] < primary.loc["vague", "p_tost"]


def test_table_validation(cells):
    logit = cells[1]
    other_folds = logit.cv.folds[::-1].copy()
    moved = replace(logit.baseline_cv, folds=other_folds)
    with pytest.raises(ValueError, match="identical folds"):
        build_pvalue_table([replace(logit, baseline_cv=moved)])
    with pytest.raises(ValueError, match="twice"):
        build_pvalue_table([logit, logit])
    with pytest.raises(ValueError, match=r"perm\.statistic"):
        build_pvalue_table([replace(logit, perm=perm_for(cells[2].cv, 0.01))])
    with pytest.raises(ValueError, match="bootstrap"):
        build_pvalue_table([replace(logit, bootstrap={"roc_auc": cells[2].bootstrap["roc_auc"]})])
    with pytest.raises(ValueError, match="baseline_cv"):
        build_pvalue_table([replace(logit, baseline_cv=None)])
    with pytest.raises(ValueError, match="unknown keys"):
        build_pvalue_table(
            [
                {
                    "dataset": "d",
                    "task": "t",
                    "model": "m",
                    "cv": logit.cv,
                    "baseline": logit.baseline_cv,
                }
            ]
        )
    with pytest.raises(ValueError, match="`alpha`"):
        build_pvalue_table(cells, alpha=0)
    with pytest.raises(ValueError, match="`auc_margin`"):
        build_pvalue_table(cells, auc_margin=0.6)
    with pytest.raises(ValueError, match="`r2_margin`"):
        build_pvalue_table(cells, r2_margin=-0.01)
    with pytest.raises(ValueError, match="`cells`"):
        build_pvalue_table(cells[0])


def test_empty_table_has_the_columns():
    table = build_pvalue_table([])
    assert list(table.columns) == COLUMNS
    assert len(table) == 0


def test_delong_p_is_never_zero_for_a_huge_effect():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 2000)
    score = y * 6.0 + rng.normal(size=y.size)
    folds = (np.arange(y.size) % 5)[None, :]
    res = delong_cv(y, score[None, :], folds)
    assert res.statistic > 38 and 0 < res.pvalue < 1e-300
