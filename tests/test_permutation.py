"""The permutation engine: agreement with scikit-learn, exactness, sequential stopping, speed
paths and parallel back ends."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, permutation_test_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from study.calibration import attainable_pvalues, randomized_pvalues
from study.datasets import class_target, get_spec, load
from study.models import build_model
from study.permutation import null_distribution, permutation_test
from study.resampling import Folds, cross_validate, folds_from_splits, repeated_folds

# --------------------------------------------------------------------------- helpers


class _OLS(RegressorMixin, BaseEstimator):
    """Least squares with intercept, as cheap as a fit can be (for calibration runs)."""

    def fit(self, X, y):
        A = np.column_stack([np.ones(len(X)), X])
        self.coef_ = np.linalg.lstsq(A, y, rcond=None)[0]
        return self

    def predict(self, X):
        return self.coef_[0] + np.asarray(X) @ self.coef_[1:]


class _MeanDifference(ClassifierMixin, BaseEstimator):
    """Projects on the difference of the class means; a cheap probabilistic classifier."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        self.w_ = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-np.asarray(X) @ self.w_))
        return np.column_stack([1 - p, p])


def _sklearn_permutations(random_state: int, n: int, n_permutations: int) -> np.ndarray:
    """The permutations scikit-learn's permutation_test_score draws, in its order.

    It calls ``check_random_state(random_state)`` once, then ``_shuffle`` draws
    ``random_state.permutation(n)`` for each permutation in turn (the generator of delayed
    calls is consumed in order in the parent process) and scores ``y[indices]``.
    """
    rs = check_random_state(random_state)
    return np.stack([rs.permutation(n) for _ in range(n_permutations)])


def _attainable(budget: int, h: int | None) -> np.ndarray:
    return attainable_pvalues(budget, h)


def _randomised(pvalues, budget, h, rng) -> np.ndarray:
    return randomized_pvalues(pvalues, attainable_pvalues(budget, h), rng)


@pytest.fixture
def trends(make_frame):
    spec = get_spec("trends")
    frame = make_frame("trends", 200, seed=11)
    return spec, frame


def _kfold(n, seed=0, n_splits=5):
    return folds_from_splits(list(KFold(n_splits, shuffle=True, random_state=seed).split(
        np.zeros(n))), n)


# --------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("method", ["generic", "batched"])
def test_ridge_null_reproduces_sklearn(trends, method):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    model = build_model("ridge", spec, "regression", random_state=0)
    cv = KFold(5, shuffle=True, random_state=3)
    folds = folds_from_splits(list(cv.split(frame)), len(frame))
    B = 12
    score, null_sk, p_sk = permutation_test_score(model, frame, y, cv=cv, n_permutations=B,
                                                  random_state=17, scoring="r2")
    perms = _sklearn_permutations(17, len(y), B)
    statistic, null = null_distribution(model, frame, y, folds, perms, task="regression",
                                        method=method)
    tol = 1e-10 if method == "generic" else 1e-8
    np.testing.assert_allclose(null, null_sk, atol=tol, rtol=0)
    assert statistic == pytest.approx(score, abs=tol)
    assert (1 + np.sum(null >= statistic)) / (B + 1) == p_sk


def test_logistic_null_reproduces_sklearn_on_repeated_folds(trends):
    spec, frame = trends
    y = class_target(frame[spec.target].to_numpy(), ">=")
    model = build_model("logistic", spec, "classification", random_state=0)
    folds = repeated_folds(y, task="classification", n_repeats=2, stratify=False,
                           random_state=5)
    B = 6
    score, null_sk, p_sk = permutation_test_score(
        model, frame, y, cv=folds.as_splits(), n_permutations=B, random_state=23,
        scoring="roc_auc")
    statistic, null = null_distribution(model, frame, y, folds,
                                        _sklearn_permutations(23, len(y), B),
                                        task="classification")
    np.testing.assert_allclose(null, null_sk, atol=1e-10, rtol=0)
    assert statistic == pytest.approx(score, abs=1e-10)
    assert (1 + np.sum(null >= statistic)) / (B + 1) == p_sk


@pytest.mark.realdata
def test_ridge_null_reproduces_sklearn_on_real_data(real_data_dir):
    spec = get_spec("trends")
    frame, _ = load("trends", real_data_dir)
    y = frame[spec.target].to_numpy()
    model = build_model("ridge", spec, "regression", random_state=0)
    cv = KFold(5, shuffle=True, random_state=0)
    _, null_sk, _ = permutation_test_score(model, frame, y, cv=cv, n_permutations=2,
                                           random_state=1, scoring="r2")
    folds = folds_from_splits(list(cv.split(frame)), len(frame))
    _, null = null_distribution(model, frame, y, folds, _sklearn_permutations(1, len(y), 2),
                                task="regression", method="batched")
    np.testing.assert_allclose(null, null_sk, atol=1e-8, rtol=0)


# --------------------------------------------------------------------------- batched path


@pytest.mark.parametrize("name", ["ridge", "dummy"])
def test_batched_equals_generic_on_the_same_permutations(trends, name):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    model = build_model(name, spec, "regression", random_state=0)
    folds = repeated_folds(y, task="regression", n_repeats=2, stratify=False, random_state=1)
    perms = np.stack([np.random.default_rng(s).permutation(len(y)) for s in range(40)])
    s_gen, null_gen = null_distribution(model, frame, y, folds, perms, task="regression",
                                        method="generic")
    s_bat, null_bat = null_distribution(model, frame, y, folds, perms, task="regression",
                                        method="batched", chunk_size=7)
    np.testing.assert_allclose(null_bat, null_gen, atol=1e-8, rtol=0)
    assert s_bat == pytest.approx(s_gen, abs=1e-8)
    assert np.ptp(null_gen) > 1e-3  # the permutations do move the statistic


def test_batched_bare_ridge_without_intercept():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    y = X[:, 0] + rng.normal(size=60)
    folds = _kfold(60, n_splits=4)
    perms = np.stack([rng.permutation(60) for _ in range(9)])
    for model in (Ridge(alpha=0.3, fit_intercept=False), Ridge(alpha=2.0, solver="svd")):
        _, a = null_distribution(model, X, y, folds, perms, task="regression",
                                 method="generic")
        _, b = null_distribution(model, X, y, folds, perms, task="regression",
                                 method="batched")
        np.testing.assert_allclose(a, b, atol=1e-8, rtol=0)


def test_auto_picks_the_batched_path_only_where_exact(trends):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    fixed = repeated_folds(y, task="regression", n_repeats=1, stratify=False, random_state=0)
    strat = repeated_folds(y, task="regression", n_repeats=1, n_bins=5, random_state=0)
    ridge = build_model("ridge", spec, "regression", random_state=0)
    kw = dict(task="regression", n_permutations=5, random_state=0)
    r = permutation_test(ridge, frame, y, fixed, **kw)
    assert r.method == "batched" and r.extra["scheme"] == "permute_y"
    r = permutation_test(ridge, frame, y, strat, **kw)
    assert r.method == "generic" and r.extra["scheme"] == "follow_labels"
    # a pipeline with steps of unknown label-dependence is not batched
    piped = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
    X = np.random.default_rng(0).normal(size=(len(y), 3))
    assert permutation_test(piped, X, y, fixed, **kw).method == "generic"
    r = permutation_test(DummyRegressor(strategy="median"), X, y, fixed, **kw)
    assert r.method == "generic"


def test_batched_and_generic_tests_give_the_same_pvalue(trends):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    folds = repeated_folds(y, task="regression", n_repeats=1, stratify=False, random_state=4)
    model = build_model("ridge", spec, "regression", random_state=0)
    kw = dict(task="regression", n_permutations=30, random_state=8)
    a = permutation_test(model, frame, y, folds, method="batched", **kw)
    b = permutation_test(model, frame, y, folds, method="generic", **kw)
    np.testing.assert_allclose(a.null_distribution, b.null_distribution, atol=1e-8, rtol=0)
    assert a.pvalue == b.pvalue and a.pvalue_two_sided == b.pvalue_two_sided


# --------------------------------------------------------------------------- p-values


def test_pvalue_is_never_zero_and_reaches_its_floor_with_a_strong_effect(trends):
    spec, frame = trends
    style = frame["Art_Style"].str.slice(5).astype(int).to_numpy()
    y = 100.0 * style + np.random.default_rng(0).normal(size=len(frame))
    model = build_model("ridge", spec, "regression", random_state=0)
    folds = repeated_folds(y, task="regression", n_repeats=1, stratify=False, random_state=0)
    B = 49
    r = permutation_test(model, frame, y, folds, task="regression", n_permutations=B,
                         random_state=0)
    assert r.statistic > 0.9
    assert r.pvalue == 1 / (B + 1)
    assert r.pvalue_two_sided == 1 / (B + 1)
    assert r.null_distribution.max() < r.statistic
    assert r.n_permutations == B and not r.stopped_early


def test_statistic_is_the_cross_validated_statistic(trends):
    spec, frame = trends
    y = class_target(frame[spec.target].to_numpy(), ">=")
    model = build_model("logistic", spec, "classification", random_state=0)
    for stratify in (True, False):
        folds = repeated_folds(y, task="classification", n_repeats=1, stratify=stratify,
                               random_state=2)
        cv = cross_validate(model, frame, y, folds, task="classification")
        r = permutation_test(model, frame, y, folds, task="classification", n_permutations=2,
                             random_state=0)
        assert r.statistic == pytest.approx(cv.statistic, abs=1e-12)
        np.testing.assert_allclose(r.extra["fold_scores"], cv.scores["roc_auc"], atol=1e-12)
        assert r.extra["scheme"] == ("follow_labels" if stratify else "permute_y")


def test_two_sided_pvalue_is_centred_on_the_null():
    # a model worse than chance: one-sided p near 1, two-sided p small
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 1))
    y = -X[:, 0] + 0.1 * rng.normal(size=80)

    class _Backwards(_OLS):
        def predict(self, X):
            return 2 * self.coef_[0] - super().predict(X)

    folds = _kfold(80)
    r = permutation_test(_Backwards(), X, y, folds, task="regression", n_permutations=39,
                         random_state=0)
    assert r.pvalue == 1.0
    assert r.pvalue_two_sided == 1 / 40
    values = np.sort(np.r_[r.null_distribution, r.statistic])
    center = values[(values.size - 1) // 2]  # the lower median of the B + 1 values
    assert r.extra["center"] == center
    assert center < 0  # cross-validated R2 of a useless model is negative


# --------------------------------------------------------------------------- sequential


def test_sequential_stopping_is_the_prefix_rule(trends):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    folds = repeated_folds(y, task="regression", n_repeats=1, stratify=False, random_state=0)
    model = build_model("ridge", spec, "regression", random_state=0)
    kw = dict(task="regression", n_permutations=60, random_state=3)
    full = permutation_test(model, frame, y, folds, **kw)
    hits = np.flatnonzero(full.null_distribution >= full.statistic)
    h = 4
    assert hits.size >= h  # a null cell
    length = hits[h - 1] + 1
    for chunk_size in (1, 5, 64):
        seq = permutation_test(model, frame, y, folds, sequential=h, chunk_size=chunk_size,
                               method="generic", **kw)
        assert seq.stopped_early
        assert seq.n_permutations == length
        assert seq.pvalue == h / length
        np.testing.assert_allclose(seq.null_distribution, full.null_distribution[:length],
                                   atol=1e-10, rtol=0)
        assert seq.extra["n_exceedances"] == h
    # without enough exceedances the rule falls back to (g + 1) / (B + 1)
    strong = permutation_test(model, frame, y, folds, sequential=hits.size + 1, **kw)
    assert not strong.stopped_early and strong.n_permutations == 60
    assert strong.pvalue == full.pvalue == (hits.size + 1) / 61


def _null_regression(rng, n=30, p=2):
    return rng.normal(size=(n, p)), rng.normal(size=n)


def _sequential_null_pvalues(n_reps, budget, h, seed):
    rng = np.random.default_rng(seed)
    one, two, lengths = [], [], []
    for i in range(n_reps):
        X, y = _null_regression(rng)
        folds = repeated_folds(y, task="regression", n_splits=3, n_repeats=1, stratify=False,
                               random_state=i)
        r = permutation_test(Ridge(alpha=1.0), X, y, folds, task="regression",
                             n_permutations=budget, sequential=h, method="batched",
                             random_state=10**6 + i)
        one.append(r.pvalue)
        two.append(r.pvalue_two_sided)
        lengths.append(r.n_permutations)
    return np.array(one), np.array(two), np.array(lengths)


def _check_uniform(pvalues, budget, h, seed):
    u = _randomised(pvalues, budget, h, np.random.default_rng(seed))
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_sequential_pvalues_are_uniform_under_the_null():
    budget, h = 99, 5
    one, _, lengths = _sequential_null_pvalues(300, budget, h, seed=0)
    _check_uniform(one, budget, h, seed=1)
    assert lengths.mean() < budget / 2  # stopping saves most of the permutations


def test_fixed_budget_pvalues_are_uniform_under_the_null():
    budget = 19
    one, two, _ = _sequential_null_pvalues(300, budget, None, seed=2)
    _check_uniform(one, budget, None, seed=3)
    _check_uniform(two, budget, None, seed=4)
    # every attainable two-sided value occurs, B / (B + 1) included (P = 1 / (B + 1) each):
    # a centre halfway between two null values would make it unreachable
    assert np.isin(_attainable(budget, None), two).all()


@pytest.mark.slow
def test_sequential_pvalues_are_uniform_under_the_null_large():
    for budget, h in [(99, 5), (199, 10), (49, 1)]:
        one, _, _ = _sequential_null_pvalues(3000, budget, h, seed=budget)
        _check_uniform(one, budget, h, seed=h)
    one, two, _ = _sequential_null_pvalues(3000, 19, None, seed=5)
    _check_uniform(one, 19, None, seed=6)
    _check_uniform(two, 19, None, seed=7)


# --------------------------------------------------------------------------- stratified scheme


class _Spy(RegressorMixin, BaseEstimator):
    """Records what every fit sees: the row ids in X's first column, and the labels."""

    log: ClassVar[list] = []

    def fit(self, X, y):
        _Spy.log.append((np.asarray(X)[:, 0].astype(int).copy(), np.asarray(y).copy()))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return self.mean_ + 1e-3 * np.asarray(X)[:, 0]


@pytest.mark.parametrize("stratify", [True, False])
def test_permutation_scheme_semantics(stratify):
    n, B = 40, 3
    X = np.arange(n, dtype=float)[:, None]  # the feature is the row id
    y = np.random.default_rng(0).normal(size=n)
    folds = repeated_folds(y, task="regression", n_splits=4, n_repeats=2, n_bins=4,
                           stratify=stratify, random_state=1)
    _Spy.log = []
    permutation_test(_Spy(), X, y, folds, task="regression", n_permutations=B, random_state=5)
    seen = {(tuple(rows), tuple(labels)) for rows, labels in _Spy.log}
    assert len(_Spy.log) == (B + 1) * folds.n_folds
    children = np.random.SeedSequence(5).spawn(B)
    perms = [np.arange(n)] + [np.random.default_rng(c).permutation(n) for c in children]
    for sigma in perms:
        for _, _, train, _ in folds.split():
            if stratify:
                # the fold follows the labels: rows sigma[train] carry the labels y[train]
                expected = (tuple(sigma[train]), tuple(y[train]))
            else:
                # the folds stay, the target is permuted
                expected = (tuple(train), tuple(y[sigma[train]]))
            assert expected in seen


def _type_one(n_reps, *, flawed, seed, task="regression", alpha=0.1, budget=19):
    """Rejection rate at ``alpha`` and the p-values of null runs on stratified folds."""
    rng = np.random.default_rng(seed)
    pvalues = []
    for i in range(n_reps):
        X = rng.normal(size=(40, 2))
        if task == "regression":
            y = rng.normal(size=40)
            folds = repeated_folds(y, task=task, n_splits=4, n_repeats=1, n_bins=4,
                                   random_state=i)
            model = _OLS()
        else:
            y = (rng.random(40) < 0.5).astype(int)
            y[:5], y[5:10] = 0, 1
            folds = repeated_folds(y, task=task, n_splits=4, n_repeats=1, random_state=i)
            model = _MeanDifference()
        if flawed:
            # the same stratified partition declared y-independent: the engine then keeps it
            # fixed and permutes y, the scheme the docstring warns against
            folds = Folds(folds.assignment, n_splits=folds.n_splits, stratified=False)
        r = permutation_test(model, X, y, folds, task=task, n_permutations=budget,
                             method="generic", random_state=10**6 + i)
        pvalues.append(r.pvalue)
    pvalues = np.array(pvalues)
    return np.mean(pvalues <= alpha + 1e-12), pvalues


def test_stratified_scheme_holds_its_level():
    n_reps, alpha, budget = 300, 0.1, 19
    rate, pvalues = _type_one(n_reps, flawed=False, seed=0, alpha=alpha, budget=budget)
    # P(p <= 0.1) = 2 / 20 exactly for an exact test
    assert stats.binomtest(round(rate * n_reps), n_reps, alpha).pvalue > 1e-3
    _check_uniform(pvalues, budget, None, seed=1)
    # the harness can tell: fixed stratified folds with permuted y reject far too often
    bad_rate, _ = _type_one(n_reps, flawed=True, seed=0, alpha=alpha, budget=budget)
    assert stats.binomtest(round(bad_rate * n_reps), n_reps, alpha,
                           alternative="greater").pvalue < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_stratified_scheme_holds_its_level_large(task):
    n_reps, alpha, budget = 2000, 0.1, 19
    rate, pvalues = _type_one(n_reps, flawed=False, seed=1, task=task, alpha=alpha,
                              budget=budget)
    assert stats.binomtest(round(rate * n_reps), n_reps, alpha).pvalue > 1e-3
    _check_uniform(pvalues, budget, None, seed=2)


# --------------------------------------------------------------------------- parallel


def _assert_same(a, b):
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)
    assert (a.statistic, a.pvalue, a.pvalue_two_sided, a.n_permutations, a.stopped_early) == (
        b.statistic, b.pvalue, b.pvalue_two_sided, b.n_permutations, b.stopped_early)


@pytest.mark.parametrize("stratify", [True, False])
def test_identical_for_any_n_jobs(trends, stratify):
    spec, frame = trends
    y = class_target(frame[spec.target].to_numpy(), ">=")
    folds = repeated_folds(y, task="classification", n_splits=3, n_repeats=1,
                           stratify=stratify, random_state=0)
    model = build_model("random_forest", spec, "classification", random_state=1,
                        n_estimators=4)
    kw = dict(task="classification", n_permutations=9, chunk_size=2, random_state=2)
    one = permutation_test(model, frame, y, folds, n_jobs=1, **kw)
    two = permutation_test(model, frame, y, folds, n_jobs=2, **kw)
    _assert_same(one, two)
    seq_one = permutation_test(model, frame, y, folds, n_jobs=1, sequential=2, **kw)
    seq_two = permutation_test(model, frame, y, folds, n_jobs=2, sequential=2, **kw)
    _assert_same(seq_one, seq_two)
    np.testing.assert_array_equal(seq_one.null_distribution,
                                  one.null_distribution[: seq_one.n_permutations])


@pytest.mark.parametrize("processes", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_identical_on_a_dask_cluster(trends, processes):
    distributed = pytest.importorskip("distributed")
    spec, frame = trends
    frame = frame.iloc[:90].reset_index(drop=True)
    y = class_target(frame[spec.target].to_numpy(), ">=")
    folds = repeated_folds(y, task="classification", n_splits=3, n_repeats=1, random_state=0)
    model = build_model("logistic", spec, "classification", random_state=0)
    kw = dict(task="classification", n_permutations=4, chunk_size=2, random_state=3)
    local = permutation_test(model, frame, y, folds, **kw)
    with pytest.raises(ValueError, match="Client"):
        permutation_test(model, frame, y, folds, backend="dask", **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        remote = permutation_test(model, frame, y, folds, backend="dask", n_jobs=-1, **kw)
    _assert_same(local, remote)


def test_progress_is_reported(trends):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    folds = repeated_folds(y, task="regression", n_repeats=1, stratify=False, random_state=0)
    model = build_model("ridge", spec, "regression", random_state=0)
    calls = []
    permutation_test(model, frame, y, folds, task="regression", n_permutations=25,
                     chunk_size=10, random_state=0, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(10, 25), (20, 25), (25, 25)]


# --------------------------------------------------------------------------- validation


def test_validation_errors_name_the_parameter(trends):
    spec, frame = trends
    y = frame[spec.target].to_numpy()
    strat = repeated_folds(y, task="regression", n_repeats=1, n_bins=5, random_state=0)
    fixed = repeated_folds(y, task="regression", n_repeats=1, stratify=False, random_state=0)
    ridge = build_model("ridge", spec, "regression", random_state=0)
    kw = dict(task="regression", random_state=0)
    cases = [
        (dict(n_permutations=0), "n_permutations"),
        (dict(sequential=0), "sequential"),
        (dict(method="fast"), "method"),
        (dict(backend="spark"), "backend"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(method="batched"), "stratified"),
    ]
    for extra, match in cases:
        with pytest.raises(ValueError, match=match):
            permutation_test(ridge, frame, y, strat, **{**kw, **extra})
    with pytest.raises(ValueError, match="random_state"):
        permutation_test(ridge, frame, y, strat, task="regression", random_state=None)
    with pytest.raises(ValueError, match="folds cover"):
        permutation_test(ridge, frame.iloc[:150], y[:150], strat, **kw)
    with pytest.raises(ValueError, match="one value"):
        permutation_test(ridge, frame, np.ones_like(y), fixed, **kw)
    forest = build_model("random_forest", spec, "regression", random_state=0)
    with pytest.raises(ValueError, match=r"method='batched'.*Ridge"):
        permutation_test(forest, frame, y, fixed, method="batched", **kw)
    labels = np.zeros(len(y), dtype=int)
    labels[:3] = 1
    logit = build_model("logistic", spec, "classification", random_state=0)
    with pytest.raises(ValueError, match="n_splits=5"):
        permutation_test(logit, frame, labels, fixed, task="classification", random_state=0)
    labels[:50] = 1
    with pytest.raises(ValueError, match="method='batched'"):
        permutation_test(logit, frame, labels, fixed, task="classification", method="batched",
                         random_state=0)
    with pytest.raises(ValueError, match="permutations"):
        null_distribution(ridge, frame, y, fixed, np.arange(len(y)), task="regression")
    with pytest.raises(ValueError, match="permutations"):
        null_distribution(ridge, frame, y, fixed, np.zeros((2, len(y)), dtype=int),
                          task="regression")
