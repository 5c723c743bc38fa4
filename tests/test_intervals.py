"""Tests of study.intervals: weighted fold metrics, jackknife, BCa, coverage."""

from __future__ import annotations

import numpy as np
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

from study import intervals
from study.intervals import (
    METRICS,
    _acceleration,
    _AUCFold,
    _bca_levels,
    _draw_weights,
    _jackknife_statistic,
    _make_fold,
    _R2Fold,
    _split_folds,
    _strata,
    bootstrap_cv,
)

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def stratified_folds(y, n_splits, rng):
    """Random fold ids with every class spread evenly over the folds."""
    folds = np.empty(y.size, dtype=np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        folds[rng.permutation(idx)] = np.arange(idx.size) % n_splits
    return folds


def random_folds(n, n_splits, rng):
    return rng.permutation(np.arange(n) % n_splits)


def classification_data(rng, n=120, n_repeats=1, n_splits=4, shift=0.8, ties=False):
    y = (rng.random(n) < 0.4).astype(int)
    y[:2], y[2:4] = 0, 1
    oof = 1.0 / (1.0 + np.exp(-(rng.normal(size=(n_repeats, n)) + shift * y)))
    if ties:
        oof = np.round(oof, 1)
    folds = np.array([stratified_folds(y, n_splits, rng) for _ in range(n_repeats)])
    return y, oof, folds


def regression_data(rng, n=120, n_repeats=1, n_splits=4):
    y = rng.normal(size=n) * 2.0 + 1.0
    oof = 0.6 * y + rng.normal(size=(n_repeats, n))
    folds = np.array([random_folds(n, n_splits, rng) for _ in range(n_repeats)])
    return y, oof, folds


def sk_metric(metric, y, p):
    if metric == "roc_auc":
        return roc_auc_score(y, p)
    if metric == "accuracy":
        return accuracy_score(y, (p > 0.5).astype(int))
    if metric == "brier":
        return brier_score_loss(y, p)
    if metric == "log_loss":
        return log_loss(y, p, labels=[0, 1])
    if metric == "r2":
        return r2_score(y, p)
    if metric == "rmse":
        return np.sqrt(mean_squared_error(y, p))
    if metric == "mae":
        return mean_absolute_error(y, p)
    raise AssertionError(metric)


def r2_about(y, p, centre, w=None):
    """R2 with the total sum of squares about a fixed ``centre`` (the observed fold mean).

    This is the resampled R2 of ``study.intervals`` (see ``_R2Fold``); with unit weights
    and ``centre = y.mean()`` it is sklearn's ``r2_score``.
    """
    w = np.ones_like(y, dtype=float) if w is None else w
    return 1.0 - np.sum(w * (y - p) ** 2) / np.sum(w * (y - centre) ** 2)


def loo_statistic(metric, y, oof, folds, i):
    """The CV statistic with row ``i`` removed from every repeat, by brute force.

    For R2 the SST of each fold stays about the fold's observed mean (see ``_R2Fold``).
    """
    keep = np.arange(y.size) != i
    if metric != "r2":
        return cv_statistic(metric, y[keep], oof[:, keep], folds[:, keep])
    vals = []
    for r in range(folds.shape[0]):
        for k in np.unique(folds[r]):
            rows = folds[r] == k
            sub = rows & keep
            vals.append(r2_about(y[sub], oof[r, sub], y[rows].mean()))
    return float(np.mean(vals))


def sk_weighted(metric, y, p, w):
    if metric == "r2":
        assert r2_about(y, p, y.mean()) == pytest.approx(r2_score(y, p))
        return r2_about(y, p, y.mean(), w)
    keep = w > 0
    y, p, w = y[keep], p[keep], w[keep]
    if metric == "roc_auc":
        return roc_auc_score(y, p, sample_weight=w)
    if metric == "accuracy":
        return accuracy_score(y, (p > 0.5).astype(int), sample_weight=w)
    if metric == "brier":
        return brier_score_loss(y, p, sample_weight=w)
    if metric == "log_loss":
        return log_loss(y, p, sample_weight=w, labels=[0, 1])
    if metric == "r2":
        return r2_score(y, p, sample_weight=w)
    if metric == "rmse":
        return np.sqrt(mean_squared_error(y, p, sample_weight=w))
    if metric == "mae":
        return mean_absolute_error(y, p, sample_weight=w)
    raise AssertionError(metric)


def cv_statistic(metric, y, oof, folds):
    vals = []
    for r in range(folds.shape[0]):
        for k in np.unique(folds[r]):
            rows = folds[r] == k
            vals.append(sk_metric(metric, y[rows], oof[r, rows]))
    return float(np.mean(vals))


# --------------------------------------------------------------------------
# weighted fold metrics
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_auc_matches_sklearn_and_repeat(ties):
    rng = np.random.default_rng(1)
    n = 60
    y = (rng.random(n) < 0.5).astype(int)
    s = rng.normal(size=n) + y
    if ties:
        s = np.round(s)  # many tied scores, within and across classes
    w = rng.integers(0, 4, size=(25, n)).astype(float)
    got = _AUCFold(np.arange(n), y, s).resample(w)
    for b in range(w.shape[0]):
        assert got[b] == pytest.approx(sk_weighted("roc_auc", y, s, w[b]), abs=1e-12)
        counts = w[b].astype(int)
        expanded = roc_auc_score(np.repeat(y, counts), np.repeat(s, counts))
        assert got[b] == pytest.approx(expanded, abs=1e-12)


def test_weighted_auc_undefined_without_one_class():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    w = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 2.0, 1.0, 1.0]])
    got = _AUCFold(np.arange(4), y, s).resample(w)
    assert np.isnan(got[0])
    assert got[1] == pytest.approx(roc_auc_score(y[1:], s[1:], sample_weight=[2, 1, 1]))


@pytest.mark.parametrize("metric", ["r2", "rmse", "mae"])
def test_weighted_regression_metrics_match_sklearn(metric):
    rng = np.random.default_rng(2)
    n = 50
    y = rng.normal(size=n) * 3 + 10  # offset: checks the centring
    p = y + rng.normal(size=n)
    w = rng.integers(0, 4, size=(20, n)).astype(float)
    got = _make_fold(metric, np.arange(n), y, p).resample(w)
    for b in range(w.shape[0]):
        assert got[b] == pytest.approx(sk_weighted(metric, y, p, w[b]), rel=1e-10)


@pytest.mark.parametrize("metric", ["accuracy", "brier", "log_loss"])
def test_weighted_classification_metrics_match_sklearn(metric):
    rng = np.random.default_rng(3)
    n = 50
    y = (rng.random(n) < 0.5).astype(int)
    p = np.clip(rng.random(n) * 0.8 + 0.2 * y, 0, 1)
    p[:3] = [0.0, 1.0, 0.5]  # clipping and the threshold
    w = rng.integers(0, 4, size=(20, n)).astype(float)
    got = _make_fold(metric, np.arange(n), y, p).resample(w)
    for b in range(w.shape[0]):
        assert got[b] == pytest.approx(sk_weighted(metric, y, p, w[b]), rel=1e-10)


def test_weighted_r2_constant_target_follows_sklearn():
    y = np.array([1.0, 1.0, 2.0, 3.0])
    p = np.array([1.0, 1.5, 2.0, 2.0])
    w = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [1, 1, 1, 1], [0, 0, 1, 0]])
    got = _R2Fold(np.arange(4), y, p).resample(w.astype(float))
    for b in range(3):
        assert got[b] == pytest.approx(r2_about(y, p, y.mean(), w[b].astype(float)))
    assert got[0] == 1.0  # a perfect resample
    assert np.isnan(got[3])  # one sample: undefined, as in r2_score
    # a fold whose target is constant follows sklearn's force_finite convention
    flat = _R2Fold(np.arange(3), np.ones(3), np.array([1.0, 1.5, 1.0]))
    assert flat.observed == r2_score(np.ones(3), [1.0, 1.5, 1.0]) == 0.0


# --------------------------------------------------------------------------
# jackknife
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True])
def test_auc_jackknife_matches_brute_force(ties):
    rng = np.random.default_rng(4)
    n = 40
    y = (rng.random(n) < 0.4).astype(int)
    y[:2], y[2:4] = 0, 1
    s = rng.normal(size=n) + y
    if ties:
        s = np.round(s * 2) / 2
    got = _AUCFold(np.arange(n), y, s).jackknife()
    for i in range(n):
        keep = np.arange(n) != i
        assert got[i] == pytest.approx(roc_auc_score(y[keep], s[keep]), abs=1e-12)


def test_auc_jackknife_single_positive_is_undefined():
    y = np.array([0, 0, 0, 1])
    s = np.array([0.1, 0.5, 0.3, 0.4])
    got = _AUCFold(np.arange(4), y, s).jackknife()
    assert np.isnan(got[3])
    for i in range(3):
        keep = np.arange(4) != i
        assert got[i] == pytest.approx(roc_auc_score(y[keep], s[keep]))


@pytest.mark.parametrize("metric", ["r2", "rmse", "mae", "accuracy", "brier", "log_loss"])
def test_other_jackknifes_match_brute_force(metric):
    rng = np.random.default_rng(5)
    n = 30
    if metric in ("r2", "rmse", "mae"):
        y = rng.normal(size=n) + 5
        p = y + rng.normal(size=n)
    else:
        y = (rng.random(n) < 0.5).astype(int)
        p = rng.random(n)
    got = _make_fold(metric, np.arange(n), y, p).jackknife()
    for i in range(n):
        keep = np.arange(n) != i
        expected = (r2_about(y[keep], p[keep], y.mean()) if metric == "r2"
                    else sk_metric(metric, y[keep], p[keep]))
        assert got[i] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("metric", ["roc_auc", "r2"])
def test_statistic_jackknife_removes_row_from_every_repeat(metric):
    rng = np.random.default_rng(6)
    make = classification_data if metric == "roc_auc" else regression_data
    y, oof, folds = make(rng, n=36, n_repeats=2, n_splits=3)
    objs = [_make_fold(metric, rows, y[rows], oof[r, rows]) for r, _, rows in _split_folds(folds)]
    got = _jackknife_statistic(objs, y.size)
    for i in range(y.size):
        expected = loo_statistic(metric, y, oof, folds, i)
        assert got[i] == pytest.approx(expected, abs=1e-12)


def test_acceleration_matches_direct_formula():
    rng = np.random.default_rng(7)
    theta = rng.normal(size=20) ** 2
    strata = [np.arange(0, 8), np.arange(8, 20)]
    num = den = 0.0
    for rows in strata:
        t = theta[rows]
        m = t.size
        u = (m - 1) * (t.mean() - t)
        num += (u**3).sum() / m**3
        den += (u**2).sum() / m**2
    assert _acceleration(theta, strata) == pytest.approx(num / (6 * den**1.5))
    # one stratum: the textbook single-sample formula of Efron (1987)
    d = theta.mean() - theta
    textbook = (d**3).sum() / (6 * ((d**2).sum()) ** 1.5)
    assert _acceleration(theta, [np.arange(20)]) == pytest.approx(textbook)


# --------------------------------------------------------------------------
# resampling scheme
# --------------------------------------------------------------------------


def test_resamples_keep_class_counts_and_fold_sizes():
    rng = np.random.default_rng(8)
    y, _, folds = classification_data(rng, n=90, n_repeats=2, n_splits=3)
    strata = _strata("roc_auc", y, folds)
    rngs = [np.random.default_rng(i) for i in range(len(strata))]
    w = _draw_weights(strata, rngs, y.size, 50)
    assert np.all(w >= 0) and np.all(w == np.round(w))
    assert np.all(w[:, y == 1].sum(axis=1) == (y == 1).sum())
    for k in range(3):
        for c in (0, 1):
            rows = (folds[0] == k) & (y == c)
            assert np.all(w[:, rows].sum(axis=1) == rows.sum())
    assert np.var(w) > 0
    # regression: strata are the folds of repeat 0 only
    ry, _, rfolds = regression_data(rng, n=90, n_repeats=2, n_splits=3)
    rstrata = _strata("r2", ry, rfolds)
    assert len(rstrata) == 3
    rw = _draw_weights(rstrata, rngs[:3], ry.size, 50)
    for k in range(3):
        assert np.all(rw[:, rfolds[0] == k].sum(axis=1) == (rfolds[0] == k).sum())


def test_same_weights_in_every_repeat():
    # With repeat 1 a copy of repeat 0 every resample has the same mean fold
    # metric as with repeat 0 alone, but only if both repeats share weights.
    rng = np.random.default_rng(9)
    y, oof, folds = classification_data(rng, n=80)
    one = bootstrap_cv(y, oof, folds, metric="roc_auc", n_resamples=300, random_state=3)
    two = bootstrap_cv(
        y,
        np.vstack([oof, oof]),
        np.vstack([folds, folds]),
        metric="roc_auc",
        n_resamples=300,
        random_state=3,
    )
    np.testing.assert_allclose(two.bootstrap_distribution, one.bootstrap_distribution)
    assert two.ci_low == pytest.approx(one.ci_low)
    assert two.ci_high == pytest.approx(one.ci_high)


def test_batching_does_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(10)
    y, oof, folds = regression_data(rng, n=100, n_repeats=2)
    ref = bootstrap_cv(y, oof, folds, metric="r2", n_resamples=250, random_state=11)
    monkeypatch.setattr(intervals, "_MAX_BATCH_ELEMENTS", 700)  # batches of 7
    small = bootstrap_cv(y, oof, folds, metric="r2", n_resamples=250, random_state=11)
    np.testing.assert_array_equal(small.bootstrap_distribution, ref.bootstrap_distribution)


def test_undefined_folds_of_later_repeats_are_skipped():
    rng = np.random.default_rng(12)
    n = 40
    y = np.zeros(n, dtype=int)
    y[:8] = 1  # two positives per fold: a fold of repeat 1 can lose both
    s = rng.normal(size=(2, n)) + y
    folds = np.array([stratified_folds(y, 4, rng), stratified_folds(y, 4, rng)])
    res = bootstrap_cv(y, s, folds, metric="roc_auc", n_resamples=400, random_state=0)
    assert res.n_undefined_folds > 0
    assert np.all(np.isfinite(res.bootstrap_distribution))
    assert np.isfinite(res.ci_low) and np.isfinite(res.ci_high)


# --------------------------------------------------------------------------
# bootstrap_cv
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_statistic_is_mean_of_fold_metrics(metric):
    rng = np.random.default_rng(13)
    if metric in ("r2", "rmse", "mae"):
        y, oof, folds = regression_data(rng, n=90, n_repeats=3, n_splits=4)
    else:
        y, oof, folds = classification_data(rng, n=90, n_repeats=3, n_splits=4, ties=True)
    res = bootstrap_cv(y, oof, folds, metric=metric, n_resamples=200, random_state=0)
    assert res.statistic == pytest.approx(cv_statistic(metric, y, oof, folds), rel=1e-10)
    assert res.metric == metric
    assert res.method == "BCa" and res.fallback_reason is None
    assert res.ci_low < res.statistic < res.ci_high
    assert res.bootstrap_distribution.shape == (200,)


@pytest.mark.parametrize("per_fold", [False, True])
@pytest.mark.parametrize("metric", METRICS)
def test_distribution_is_fold_average_of_weighted_metrics(metric, per_fold, monkeypatch):
    # Regenerate the resample weights from the same streams and recompute every
    # resample with sklearn: one weight vector, shared by all repeats.
    if per_fold:  # the path without the block design matrix
        monkeypatch.setattr(intervals, "_MAX_DESIGN_ELEMENTS", 0)
    rng = np.random.default_rng(26)
    if metric in ("r2", "rmse", "mae"):
        y, oof, folds = regression_data(rng, n=45, n_repeats=2, n_splits=3)
    else:
        y, oof, folds = classification_data(rng, n=45, n_repeats=2, n_splits=3, ties=True)
    res = bootstrap_cv(y, oof, folds, metric=metric, n_resamples=25, random_state=8)
    strata = _strata(metric, y, folds)
    w = _draw_weights(strata, intervals._as_rng_list(8, len(strata)), y.size, 25)
    for b in range(25):
        vals = []
        for r in range(2):
            for k in range(3):
                rows = folds[r] == k
                vals.append(sk_weighted(metric, y[rows], oof[r, rows], w[b, rows]))
        assert res.bootstrap_distribution[b] == pytest.approx(np.mean(vals), rel=1e-9)


def auc_two_sample(neg, pos, axis=-1):
    d = pos[..., :, np.newaxis] - neg[..., np.newaxis, :]
    return ((d > 0) + 0.5 * (d == 0)).mean(axis=(-2, -1))


def test_bca_agrees_with_scipy_for_auc_single_fold():
    rng = np.random.default_rng(14)
    n = 200
    y = (rng.random(n) < 0.5).astype(int)
    s = np.round(rng.normal(size=n) + 0.8 * y, 2)
    folds = np.zeros(n, dtype=int)
    ours = bootstrap_cv(y, s, folds, metric="roc_auc", n_resamples=20000, random_state=1)
    # Class-stratified resampling == scipy's independent resampling of two samples.
    ref = stats.bootstrap(
        (s[y == 0], s[y == 1]),
        auc_two_sample,
        n_resamples=20000,
        batch=1000,
        method="BCa",
        rng=np.random.default_rng(2),
    )
    assert ours.method == "BCa"
    assert ours.statistic == pytest.approx(auc_two_sample(s[y == 0], s[y == 1]))
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.006)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.006)
    assert np.std(ours.bootstrap_distribution) == pytest.approx(ref.standard_error, rel=0.03)


def r2_paired(y, p, axis=-1):
    sse = ((y - p) ** 2).sum(axis=axis)
    sst = ((y - y.mean(axis=axis, keepdims=True)) ** 2).sum(axis=axis)
    return 1 - sse / sst


def test_bca_agrees_with_scipy_for_r2_single_fold():
    rng = np.random.default_rng(15)
    n = 200
    y = rng.standard_t(5, size=n)
    p = 0.5 * y + rng.normal(size=n)
    folds = np.zeros(n, dtype=int)
    ours = bootstrap_cv(y, p, folds, metric="r2", n_resamples=20000, random_state=1)
    ref = stats.bootstrap(
        (y, p),
        r2_paired,
        paired=True,
        n_resamples=20000,
        method="BCa",
        rng=np.random.default_rng(2),
    )
    assert ours.method == "BCa"
    assert ours.statistic == pytest.approx(r2_score(y, p))
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.01)


@pytest.mark.parametrize("metric", ["roc_auc", "r2"])
def test_bca_interval_follows_its_definition(metric):
    # z0 from the bootstrap distribution, a from a brute-force stratified
    # jackknife (strata: class x fold of repeat 0 for AUC, fold of repeat 0
    # for R2), levels Phi(z0 + (z0 + z) / (1 - a (z0 + z))) [Efron 1987].
    rng = np.random.default_rng(25)
    if metric == "roc_auc":
        y, oof, folds = classification_data(rng, n=60, n_repeats=2, n_splits=3, ties=True)
        key = folds[0] * 2 + y
    else:
        y, oof, folds = regression_data(rng, n=60, n_repeats=2, n_splits=3)
        key = folds[0]
    res = bootstrap_cv(y, oof, folds, metric=metric, n_resamples=2000, random_state=4)
    n = y.size
    jack = np.array([loo_statistic(metric, y, oof, folds, i) for i in range(n)])
    num = den = 0.0
    for s in np.unique(key):
        t = jack[key == s]
        u = (t.size - 1) * (t.mean() - t)
        num += np.sum(u**3) / t.size**3
        den += np.sum(u**2) / t.size**2
    a = num / (6 * den**1.5)
    dist, theta = res.bootstrap_distribution, res.statistic
    ties = np.isclose(dist, theta, rtol=0, atol=1e-12)
    z0 = stats.norm.ppf((np.sum((dist < theta) & ~ties) + 0.5 * np.sum(ties)) / dist.size)
    z = stats.norm.ppf([0.025, 0.975])
    levels = stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    assert res.method == "BCa"
    assert res.acceleration == pytest.approx(a, rel=1e-8)
    assert res.bias_correction == pytest.approx(z0)
    np.testing.assert_allclose([res.ci_low, res.ci_high], np.quantile(dist, levels))
    assert abs(z0) > 0.01 and abs(a) > 1e-4  # the corrections were exercised


@pytest.mark.parametrize("method", ["percentile", "basic"])
def test_percentile_and_basic_intervals(method):
    rng = np.random.default_rng(16)
    y, oof, folds = classification_data(rng, n=100)
    res = bootstrap_cv(
        y,
        oof,
        folds,
        metric="roc_auc",
        n_resamples=500,
        confidence_level=0.9,
        method=method.upper(),
        random_state=0,
    )
    q = np.quantile(res.bootstrap_distribution, [0.05, 0.95])
    if method == "basic":
        q = 2 * res.statistic - q[::-1]
    assert res.method == method and res.fallback_reason is None
    np.testing.assert_allclose([res.ci_low, res.ci_high], q)
    assert res.confidence_level == 0.9


def test_constant_predictions_fall_back_to_percentile():
    rng = np.random.default_rng(17)
    y, _, folds = classification_data(rng, n=100, n_repeats=2)
    oof = np.full((2, y.size), 0.37)  # a dummy classifier
    res = bootstrap_cv(y, oof, folds, metric="roc_auc", n_resamples=200, random_state=0)
    assert res.statistic == 0.5
    assert res.method == "percentile"
    assert "degenerate bootstrap distribution" in res.fallback_reason
    assert (res.ci_low, res.ci_high) == (0.5, 0.5)
    assert np.all(res.bootstrap_distribution == 0.5)


def test_perfect_separation_falls_back_to_percentile():
    rng = np.random.default_rng(18)
    y, _, folds = classification_data(rng, n=60)
    oof = np.where(y == 1, 0.9, 0.1)[np.newaxis, :] + 0.01 * rng.random((1, y.size))
    res = bootstrap_cv(y, oof, folds, metric="roc_auc", n_resamples=100, random_state=0)
    assert res.statistic == 1.0
    assert res.method == "percentile" and res.fallback_reason
    assert (res.ci_low, res.ci_high) == (1.0, 1.0)


def test_bca_levels_record_why_they_fail():
    dist = np.linspace(0.6, 0.7, 101)
    levels, z0, reason = _bca_levels(dist, 0.5, 0.0, 0.025)
    assert levels is None and np.isinf(z0) and "z0" in reason
    levels, _, reason = _bca_levels(dist, 0.65, np.nan, 0.025)
    assert levels is None and "acceleration" in reason
    levels, _, reason = _bca_levels(dist, 0.65, 0.9, 0.025)
    assert levels is None and "monotone" in reason
    levels, z0, reason = _bca_levels(dist, 0.65, 0.0, 0.025)
    assert reason is None and z0 == pytest.approx(0.0, abs=0.02)
    # with z0 = a = 0 the BCa levels are the percentile levels
    np.testing.assert_allclose(levels, [0.025, 0.975], atol=0.005)


def test_bias_correction_counts_ties_one_half():
    dist = np.repeat([0.4, 0.5, 0.6], [30, 40, 30])
    for theta in (0.5, 0.5 + 1e-15):  # round-off must not break the tie
        _, z0, reason = _bca_levels(dist, theta, 0.0, 0.025)
        assert reason is None and z0 == pytest.approx(0.0, abs=1e-12)
    _, z0, _ = _bca_levels(dist, 0.6, 0.0, 0.025)
    assert z0 == pytest.approx(stats.norm.ppf((70 + 15) / 100))


def test_fallback_when_observed_statistic_outside_distribution(monkeypatch):
    # Force a distribution lying entirely above the statistic.
    rng = np.random.default_rng(19)
    y, oof, folds = classification_data(rng, n=60)

    def shifted(self, weights, _orig=_AUCFold.resample):
        return _orig(self, weights) * 0 + 2.0 + np.arange(weights.shape[0]) * 1e-3

    monkeypatch.setattr(_AUCFold, "resample", shifted)
    res = bootstrap_cv(y, oof, folds, metric="roc_auc", n_resamples=50, random_state=0)
    assert res.method == "percentile"
    assert "z0" in res.fallback_reason
    assert np.isfinite(res.ci_low) and np.isfinite(res.ci_high)


def test_single_class_fold_raises_naming_the_fold():
    y = np.array([0, 1, 0, 1, 0, 0, 1, 1])
    oof = np.linspace(0, 1, 8)
    folds = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    with pytest.raises(ValueError, match="fold 2 of repeat 0"):
        bootstrap_cv(y, oof, folds, metric="roc_auc", n_resamples=10, random_state=0)
    # secondary metrics are defined on a single-class fold
    res = bootstrap_cv(y, oof, folds, metric="brier", n_resamples=10, random_state=0)
    assert np.isfinite(res.statistic)


def test_reproducible_and_global_rng_untouched():
    rng = np.random.default_rng(20)
    y, oof, folds = regression_data(rng, n=80)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checks the global RNG
    a = bootstrap_cv(y, oof, folds, metric="mae", n_resamples=100, random_state=5)
    b = bootstrap_cv(
        y, oof, folds, metric="mae", n_resamples=100, random_state=np.random.SeedSequence(5)
    )
    c = bootstrap_cv(y, oof, folds, metric="mae", n_resamples=100, random_state=6)
    d = bootstrap_cv(
        y, oof, folds, metric="mae", n_resamples=100, random_state=np.random.default_rng(5)
    )
    np.testing.assert_array_equal(a.bootstrap_distribution, b.bootstrap_distribution)
    assert not np.array_equal(a.bootstrap_distribution, c.bootstrap_distribution)
    assert np.all(np.isfinite(d.bootstrap_distribution))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


_GOOD = {"metric": "roc_auc", "n_resamples": 10, "random_state": 0}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"metric": "auc"}, "metric"),
        ({"n_resamples": 0}, "n_resamples"),
        ({"n_resamples": 2.5}, "n_resamples"),
        ({"n_resamples": True}, "n_resamples"),
        ({"confidence_level": 1.0}, "confidence_level"),
        ({"confidence_level": 0}, "confidence_level"),
        ({"method": "bootstrap-t"}, "method"),
        ({"random_state": "seed"}, "random_state"),
        ({"random_state": np.random.RandomState(0)}, "random_state"),
        ({"random_state": -1}, "random_state"),
    ],
)
def test_option_validation_names_the_parameter(kwargs, name):
    rng = np.random.default_rng(21)
    y, oof, folds = classification_data(rng, n=40)
    with pytest.raises(ValueError, match=f"`{name}`"):
        bootstrap_cv(y, oof, folds, **{**_GOOD, **kwargs})


def test_array_validation_names_the_parameter():
    rng = np.random.default_rng(22)
    y, oof, folds = classification_data(rng, n=40, n_repeats=2)
    with pytest.raises(ValueError, match="`y`"):
        bootstrap_cv(y[:, None], oof, folds, **_GOOD)
    with pytest.raises(ValueError, match="`oof`"):
        bootstrap_cv(y, oof[:, :-1], folds, **_GOOD)
    with pytest.raises(ValueError, match="`oof`"):
        bootstrap_cv(y, np.where(oof > 0.9, np.nan, oof), folds, **_GOOD)
    with pytest.raises(ValueError, match="`folds`"):
        bootstrap_cv(y, oof, folds[:1], **_GOOD)
    with pytest.raises(ValueError, match="`folds`"):
        bootstrap_cv(y, oof, folds + 0.5, **_GOOD)
    with pytest.raises(ValueError, match="`folds`"):
        bootstrap_cv(y, oof, folds - 1, **_GOOD)
    with pytest.raises(ValueError, match="`y`"):
        bootstrap_cv(y + 1, oof, folds, **_GOOD)
    with pytest.raises(ValueError, match="`oof`"):
        bootstrap_cv(y, oof * 2, folds, **{**_GOOD, "metric": "log_loss"})
    with pytest.raises(ValueError, match="`folds`"):
        bootstrap_cv(
            np.r_[y, 1.0],
            np.c_[oof, oof[:, :1]],
            np.c_[folds, [[9], [9]]],
            **{**_GOOD, "metric": "r2"},
        )


# --------------------------------------------------------------------------
# coverage under a binormal model
# --------------------------------------------------------------------------


def _binormal_coverage(n_sim, n_pos, n_neg, d, n_resamples, seed):
    rng = np.random.default_rng(seed)
    true_auc = stats.norm.cdf(d / np.sqrt(2))
    y = np.r_[np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)]
    covered = 0
    for _ in range(n_sim):
        s = np.r_[rng.normal(d, 1, n_pos), rng.normal(0, 1, n_neg)]
        folds = stratified_folds(y, 5, rng)
        res = bootstrap_cv(y, s, folds, metric="roc_auc", n_resamples=n_resamples, random_state=rng)
        assert res.method == "BCa"
        covered += res.ci_low <= true_auc <= res.ci_high
    return covered


def test_bca_coverage_binormal_small():
    n_sim = 300
    covered = _binormal_coverage(n_sim, 60, 90, d=1.0, n_resamples=999, seed=23)
    assert stats.binomtest(covered, n_sim, 0.95).pvalue > 0.001


@pytest.mark.slow
@pytest.mark.parametrize(("n_pos", "n_neg", "d"), [(100, 100, 1.0), (30, 170, 0.5)])
def test_bca_coverage_binormal_large(n_pos, n_neg, d):
    n_sim = 2000
    covered = _binormal_coverage(n_sim, n_pos, n_neg, d=d, n_resamples=1999, seed=24)
    assert stats.binomtest(covered, n_sim, 0.95).pvalue > 0.001


def test_r2_interval_of_near_null_models_covers_the_statistic():
    """Regression test from review: resampled R2 must not be biased off its statistic.

    With the SST re-centred on every resample's mean, a model predicting the training mean
    (plus a tiny slope) had BCa z0 = inf or 2.5 and an interval excluding its own statistic.
    """
    rng = np.random.default_rng(0)
    n, n_repeats, n_splits = 2000, 3, 5
    y = rng.normal(size=n)
    x = rng.normal(size=n)
    folds = np.array([rng.permutation(np.arange(n) % n_splits) for _ in range(n_repeats)])
    for scale in (0.03, 0.0):
        oof = np.empty((n_repeats, n))
        for r in range(n_repeats):
            for k in range(n_splits):
                test = folds[r] == k
                oof[r, test] = y[~test].mean() + scale * x[test] * rng.normal()
        res = bootstrap_cv(y, oof, folds, metric="r2", n_resamples=1999, random_state=1)
        assert res.method == "BCa" and res.fallback_reason is None
        assert res.ci_low < res.statistic < res.ci_high
        assert abs(res.bias_correction) < 0.2  # the median resample sits near the statistic
