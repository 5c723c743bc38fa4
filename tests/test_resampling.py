"""Repeated stratified folds and per-fold cross-validation scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import Ridge
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from study.datasets import class_target, get_spec
from study.models import build_model
from study.resampling import Folds, cross_validate, folds_from_splits, repeated_folds


def _rank_bins(y, n_bins):
    order = np.argsort(y, kind="stable")
    ranks = np.empty(len(y), dtype=int)
    ranks[order] = np.arange(len(y))
    return ranks * n_bins // len(y)


def _spread(counts):
    return counts.max(axis=0) - counts.min(axis=0)


# --------------------------------------------------------------------------- folds


def test_classification_folds_are_stratified_on_the_class():
    rng = np.random.default_rng(0)
    y = (rng.random(503) < 0.3).astype(int)
    folds = repeated_folds(y, task="classification", n_splits=5, n_repeats=20, random_state=1)
    assert folds.stratified and folds.strata == "class"
    assert folds.assignment.shape == (20, 503)
    for a in folds.assignment:
        counts = np.stack([np.bincount(y[a == k], minlength=2) for k in range(5)])
        assert _spread(counts).max() <= 1  # per-fold class counts differ by at most one
        sizes = np.bincount(a, minlength=5)
        assert sizes.max() - sizes.min() <= 1


def test_regression_folds_are_stratified_on_quantile_bins():
    rng = np.random.default_rng(1)
    y = rng.lognormal(size=237)
    folds = repeated_folds(y, task="regression", n_splits=5, n_repeats=10, n_bins=7,
                           random_state=2)
    assert folds.stratified and "7 target-quantile bins" in folds.strata
    bins = _rank_bins(y, 7)
    assert np.bincount(bins).max() - np.bincount(bins).min() <= 1
    for a in folds.assignment:
        counts = np.stack([np.bincount(bins[a == k], minlength=7) for k in range(5)])
        assert _spread(counts).max() <= 1
        sizes = np.bincount(a, minlength=5)
        assert sizes.max() - sizes.min() <= 1
    # the folds' target means are much closer than under an unstratified split
    strat = [np.ptp([y[a == k].mean() for k in range(5)]) for a in folds.assignment]
    plain = repeated_folds(y, task="regression", n_repeats=10, stratify=False, random_state=2)
    loose = [np.ptp([y[a == k].mean() for k in range(5)]) for a in plain.assignment]
    assert np.mean(strat) < np.mean(loose)


def test_fold_sizes_balance_across_strata():
    # three strata of 7 rows: each leaves a remainder of 2, the deal must spread them
    y = np.repeat([0.0, 1.0, 2.0], 7)
    folds = repeated_folds(y, task="regression", n_splits=5, n_repeats=50, n_bins=3,
                           random_state=3)
    for a in folds.assignment:
        sizes = np.bincount(a, minlength=5)
        assert sizes.max() - sizes.min() <= 1
    # and which folds get the extra rows changes between repeats (random offset)
    extra = {tuple(np.bincount(a, minlength=5)) for a in folds.assignment}
    assert len(extra) > 1


def test_each_repeat_is_a_uniformly_random_partition():
    y = np.repeat([0, 1], 10)
    folds = repeated_folds(y, task="classification", n_splits=5, n_repeats=4000,
                           random_state=4)
    # every row lands in every fold equally often
    freq = np.stack([np.bincount(folds.assignment[:, i], minlength=5) for i in range(20)])
    chi2 = stats.chisquare(freq, axis=1)
    assert stats.kstest(chi2.pvalue, "uniform").pvalue > 1e-3
    # two rows of one class share a fold with probability (2 - 1) / (10 - 1)
    together = np.mean(folds.assignment[:, 0] == folds.assignment[:, 1])
    assert abs(together - 1 / 9) < 4 * np.sqrt((1 / 9) * (8 / 9) / 4000)


def test_unstratified_folds():
    y = np.arange(103, dtype=float)
    folds = repeated_folds(y, task="regression", n_splits=4, n_repeats=3, stratify=False,
                           random_state=0)
    assert not folds.stratified and folds.strata == "none"
    for a in folds.assignment:
        assert np.bincount(a).tolist() in ([26, 26, 26, 25], [26, 26, 25, 26],
                                           [26, 25, 26, 26], [25, 26, 26, 26])


def test_folds_are_reproducible():
    y = np.random.default_rng(5).normal(size=200)
    a = repeated_folds(y, task="regression", n_repeats=3, random_state=11)
    b = repeated_folds(y, task="regression", n_repeats=3, random_state=11)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    c = repeated_folds(y, task="regression", n_repeats=3, random_state=12)
    assert not np.array_equal(a.assignment, c.assignment)
    # the first repeats do not change when more are asked for
    d = repeated_folds(y, task="regression", n_repeats=5, random_state=11)
    np.testing.assert_array_equal(a.assignment, d.assignment[:3])
    # a SeedSequence argument is not consumed
    seq = np.random.SeedSequence(99)
    e = repeated_folds(y, task="regression", n_repeats=2, random_state=seq)
    f = repeated_folds(y, task="regression", n_repeats=2, random_state=seq)
    np.testing.assert_array_equal(e.assignment, f.assignment)
    assert not a.assignment.flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "y", "match"),
    [
        ({"n_splits": 1}, np.arange(50.0), "n_splits"),
        ({"n_repeats": 0}, np.arange(50.0), "n_repeats"),
        ({"n_bins": 20}, np.arange(50.0), "n_bins"),
        ({}, np.ones(50), "one value"),
        ({}, np.r_[np.arange(49.0), np.nan], "NaN"),
        ({"random_state": None}, np.arange(50.0), "random_state"),
    ],
)
def test_regression_fold_validation(kwargs, y, match):
    kwargs = {"random_state": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        repeated_folds(y, task="regression", **kwargs)


def test_classification_fold_validation():
    y = np.r_[np.zeros(40, int), np.ones(4, int)]
    with pytest.raises(ValueError, match=r"class 1 has 4 member.*n_splits=5"):
        repeated_folds(y, task="classification", n_splits=5, random_state=0)
    with pytest.raises(ValueError, match="task="):
        repeated_folds(y, task="survival", random_state=0)
    with pytest.raises(ValueError, match="3 classes"):
        repeated_folds(np.arange(30) % 3, task="classification", random_state=0)


def test_folds_from_splits_roundtrip():
    n = 23
    pairs = []
    for seed in range(2):
        pairs += list(KFold(4, shuffle=True, random_state=seed).split(np.zeros(n)))
    folds = folds_from_splits(pairs, n)
    assert folds.n_repeats == 2 and folds.n_splits == 4 and not folds.stratified
    for (train, test), (train2, test2) in zip(pairs, folds.as_splits(), strict=True):
        np.testing.assert_array_equal(np.sort(train), train2)
        np.testing.assert_array_equal(np.sort(test), test2)
    with pytest.raises(ValueError, match="complement"):
        folds_from_splits([(np.arange(5), np.arange(10, 15))], 15)
    with pytest.raises(ValueError, match="empty fold"):
        Folds(np.zeros((1, 10), dtype=int), n_splits=2, stratified=False)


# --------------------------------------------------------------------------- cross-validation


@pytest.fixture
def trends_frame(make_frame):
    spec = get_spec("trends")
    frame = make_frame("trends", 300, seed=7)
    # a weak planted signal, so that scores are not all at chance
    bonus = frame["Art_Style"].isin(["Style1", "Style2", "Style3"]).to_numpy() * 4000.0
    frame[spec.target] = frame[spec.target] + bonus
    return spec, frame


def test_classification_fold_scores_match_sklearn(trends_frame):
    spec, frame = trends_frame
    y = class_target(frame[spec.target].to_numpy(), ">=")
    folds = repeated_folds(y, task="classification", n_repeats=2, random_state=0)
    model = build_model("logistic", spec, "classification", random_state=0)
    cv = cross_validate(model, frame, y, folds, task="classification")
    assert cv.metric == "roc_auc" and cv.scores["roc_auc"].shape == (2, 5)
    for r, k, train, test in folds.split():
        p = cv.oof[r, test]
        assert cv.scores["roc_auc"][r, k] == pytest.approx(roc_auc_score(y[test], p), abs=1e-12)
        assert cv.scores["accuracy"][r, k] == pytest.approx(
            accuracy_score(y[test], (p > 0.5).astype(int)), abs=1e-12)
        assert cv.scores["brier"][r, k] == pytest.approx(brier_score_loss(y[test], p), abs=1e-12)
        assert cv.scores["log_loss"][r, k] == pytest.approx(log_loss(y[test], p), abs=1e-9)
        # the out-of-fold predictions are those of a pipeline fitted on that fold only
        fitted = build_model("logistic", spec, "classification", random_state=0)
        fitted.fit(frame.iloc[train], y[train])
        np.testing.assert_allclose(p, fitted.predict_proba(frame.iloc[test])[:, 1], atol=1e-12)
    assert cv.statistic == pytest.approx(cv.scores["roc_auc"].mean())
    np.testing.assert_array_equal(cv.n_train + cv.n_test, 300)
    np.testing.assert_array_equal(cv.folds, folds.assignment)
    assert cv.statistic > 0.6  # the planted signal is found


def test_regression_fold_scores_match_sklearn(trends_frame):
    spec, frame = trends_frame
    y = frame[spec.target].to_numpy()
    folds = repeated_folds(y, task="regression", n_repeats=2, n_bins=5, random_state=0)
    cv = cross_validate(build_model("ridge", spec, "regression", random_state=0), frame, y,
                        folds, task="regression")
    assert set(cv.scores) == {"r2", "rmse", "mae"}
    for r, k, _, test in folds.split():
        p = cv.oof[r, test]
        assert cv.scores["r2"][r, k] == pytest.approx(r2_score(y[test], p), abs=1e-12)
        assert cv.scores["rmse"][r, k] == pytest.approx(
            np.sqrt(mean_squared_error(y[test], p)), rel=1e-12)
        assert cv.scores["mae"][r, k] == pytest.approx(mean_absolute_error(y[test], p),
                                                        rel=1e-12)
    assert np.all(cv.fit_times > 0)


class _PriorPlusFeature(ClassifierMixin, BaseEstimator):
    """Predicts the training prior, nudged by the first feature."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.prior_ = float(np.mean(y))
        return self

    def predict_proba(self, X):
        p = self.prior_ + 0.01 * np.asarray(X)[:, 0]
        return np.column_stack([1 - p, p])


def test_fold_scores_are_not_pooled():
    # fold 0 holds 3 positives of 10, fold 1 holds 7: every fold ranks its own rows
    # perfectly, but each fold's offset is the other fold's prior, so pooling mixes them
    y = np.r_[np.repeat([1, 0], [3, 7]), np.repeat([1, 0], [7, 3])]
    X = y[:, None].astype(float)
    folds = Folds(np.repeat([0, 1], 10)[None, :], n_splits=2, stratified=False)
    cv = cross_validate(_PriorPlusFeature(), X, y, folds, task="classification")
    np.testing.assert_array_equal(cv.scores["roc_auc"], [[1.0, 1.0]])
    assert cv.statistic == 1.0
    assert roc_auc_score(y, cv.oof[0]) < 0.9


def test_cross_validate_is_identical_for_any_n_jobs(trends_frame):
    spec, frame = trends_frame
    y = class_target(frame[spec.target].to_numpy(), ">=")
    folds = repeated_folds(y, task="classification", n_repeats=1, random_state=3)
    model = build_model("random_forest", spec, "classification", random_state=1, n_estimators=5)
    a = cross_validate(model, frame, y, folds, task="classification", n_jobs=1)
    b = cross_validate(model, frame, y, folds, task="classification", n_jobs=2)
    for m in a.scores:
        np.testing.assert_array_equal(a.scores[m], b.scores[m])
    np.testing.assert_array_equal(a.oof, b.oof)


def test_nan_after_preprocessing_names_X():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    X[3, 1] = np.nan
    y = rng.normal(size=40)
    folds = repeated_folds(y, task="regression", n_repeats=1, n_bins=2, random_state=0)
    model = Pipeline([("prep", FunctionTransformer()), ("model", Ridge())])
    with pytest.raises(ValueError, match=r"^X: 1 NaN"):
        cross_validate(model, X, y, folds, task="regression")
    with pytest.raises(ValueError, match=r"^X: 1 NaN"):
        cross_validate(Ridge(), X, y, folds, task="regression")


def test_cross_validate_validation(trends_frame):
    spec, frame = trends_frame
    y = frame[spec.target].to_numpy()
    folds = repeated_folds(y, task="regression", n_repeats=1, random_state=0)
    model = build_model("ridge", spec, "regression", random_state=0)
    with pytest.raises(ValueError, match="folds cover 300 rows but y has 299"):
        cross_validate(model, frame.iloc[:299], y[:299], folds, task="regression")
    with pytest.raises(ValueError, match="X has 299 rows"):
        cross_validate(model, frame.iloc[:299], y, folds, task="regression")
    with pytest.raises(ValueError, match="n_jobs"):
        cross_validate(model, frame, y, folds, task="regression", n_jobs=0)
    with pytest.raises(ValueError, match="backend"):
        cross_validate(model, frame, y, folds, task="regression", backend="spark")
