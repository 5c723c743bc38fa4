"""Repeated stratified K-fold cross-validation with out-of-fold predictions.

:func:`repeated_folds` draws the partitions once, as data (a :class:`Folds` record holding the
test fold of every row in every repeat), so that the same folds can be given to every model,
to the mean baseline, to the permutation test and to scikit-learn. :func:`cross_validate`
refits a clone of a pipeline in every fold and scores every fold on its own.

Stratification
--------------
Classification folds are stratified on the class; regression folds on ``n_bins`` quantile
bins of the target (scikit-learn's ``StratifiedKFold`` refuses a continuous target, see its
issue #4757). Bins are formed on the rank of the target (ties broken by row order), so they
hold ``n // n_bins`` or ``n // n_bins + 1`` rows each. Every repeat is a uniformly random
stratified partition: within each stratum the rows are shuffled with the repeat's own
generator and dealt round-robin to the folds, the deal continuing across strata from a random
starting fold. Each fold then holds, of every stratum, ``floor(m / K)`` or ``ceil(m / K)`` of
its ``m`` rows, and the fold sizes differ by at most one.

Scores
------
Every metric is computed on each test fold separately and averaged over the ``R x K`` folds,
never on pooled out-of-fold predictions: pooling mixes predictions of ``R x K`` different
models whose offsets differ, and pooled out-of-fold AUC of a useless model is biased below 0.5
(the fold-to-fold differences in the training class balance shift each fold's scores in the
direction that ranks its own test rows wrongly).

References
----------
.. [1] Kohavi, R. (1995). A study of cross-validation and bootstrap for accuracy estimation
   and model selection. IJCAI 14, 1137-1145.
.. [2] Airola, A., Pahikkala, T., Waegeman, W., De Baets, B., & Salakoski, T. (2011). An
   experimental comparison of cross-validation techniques for estimating the area under the
   ROC curve. Computational Statistics & Data Analysis 55(4), 1828-1844.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import delayed
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from study.parallel import as_seed_sequence, executor
from study.results import CVResult

__all__ = [
    "HEADLINE_METRIC",
    "SECONDARY_METRICS",
    "Folds",
    "cross_validate",
    "fold_score",
    "folds_from_splits",
    "repeated_folds",
]

#: Headline metric of each task.
HEADLINE_METRIC = {"regression": "r2", "classification": "roc_auc"}

#: Secondary per-fold metrics of each task.
SECONDARY_METRICS = {
    "regression": ("rmse", "mae"),
    "classification": ("accuracy", "brier", "log_loss"),
}


# --------------------------------------------------------------------------- folds


@dataclass(frozen=True, eq=False)
class Folds:
    """The test fold of every row in every repeat of a repeated K-fold design.

    Attributes
    ----------
    assignment : ndarray of int of shape (n_repeats, n_samples)
        ``assignment[r, i]`` is the test fold (``0 .. n_splits - 1``) of row ``i`` in repeat
        ``r``. Read-only.
    n_splits : int
    stratified : bool
        Whether the partition depends on ``y`` (stratified on the class or on target bins).
        :func:`study.permutation.permutation_test` uses it to choose an exact scheme.
    strata : str
        What the folds were stratified on, in words (``"none"`` when not stratified).
    """

    assignment: np.ndarray
    n_splits: int
    stratified: bool
    strata: str = "none"

    def __post_init__(self) -> None:
        a = np.array(self.assignment, dtype=np.int64, copy=True)
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2:
            raise ValueError(
                f"assignment must have shape (n_repeats, n_samples); got {np.shape(a)}"
            )
        if self.n_splits < 2 or a.min() < 0 or a.max() >= self.n_splits:
            raise ValueError(
                f"assignment must hold fold numbers 0..{self.n_splits - 1} (n_splits="
                f"{self.n_splits}); got values in {a.min()}..{a.max()}"
            )
        for r in range(a.shape[0]):
            sizes = np.bincount(a[r], minlength=self.n_splits)
            if sizes.min() == 0:
                raise ValueError(f"assignment: repeat {r} has an empty fold ({sizes.tolist()})")
        a.setflags(write=False)
        object.__setattr__(self, "assignment", a)
        object.__setattr__(self, "n_splits", int(self.n_splits))
        object.__setattr__(self, "stratified", bool(self.stratified))

    @property
    def n_repeats(self) -> int:
        return int(self.assignment.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.assignment.shape[1])

    @property
    def n_folds(self) -> int:
        """``n_repeats * n_splits``: the number of fitted models."""
        return self.n_repeats * self.n_splits

    @property
    def n_test(self) -> np.ndarray:
        """Test fold sizes, shape (n_repeats, n_splits)."""
        return np.stack([np.bincount(a, minlength=self.n_splits) for a in self.assignment])

    @property
    def n_train(self) -> np.ndarray:
        """Training fold sizes, shape (n_repeats, n_splits)."""
        return self.n_samples - self.n_test

    def split(self) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """Yield ``(repeat, fold, train_indices, test_indices)``, repeat-major."""
        for r, a in enumerate(self.assignment):
            for k in range(self.n_splits):
                yield r, k, np.flatnonzero(a != k), np.flatnonzero(a == k)

    def as_splits(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(train, test)`` index pairs, repeat-major: a ``cv`` argument for scikit-learn."""
        return [(train, test) for _, _, train, test in self.split()]


def folds_from_splits(
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    n_samples: int,
    *,
    stratified: bool = False,
    strata: str = "none",
) -> Folds:
    """:class:`Folds` from ``(train, test)`` index pairs (for example ``KFold.split``).

    Consecutive pairs whose test sets partition the rows form one repeat; every repeat must
    have the same number of folds, and each pair's training set must be the complement of its
    test set. ``stratified`` must say whether the splitter looked at ``y``.
    """
    splits = list(splits)
    if not splits:
        raise ValueError("splits is empty")
    repeats: list[np.ndarray] = []
    current = np.full(n_samples, -1, dtype=np.int64)
    k = 0
    n_splits = None
    for train, test in splits:
        train = np.asarray(train, dtype=np.int64)
        test = np.asarray(test, dtype=np.int64)
        if np.any(current[test] >= 0):
            raise ValueError("splits: test sets of one repeat overlap")
        expected = np.setdiff1d(np.arange(n_samples), test)
        if not np.array_equal(np.sort(train), expected):
            raise ValueError("splits: every training set must be the complement of its test set")
        current[test] = k
        k += 1
        if np.all(current >= 0):
            if n_splits is not None and k != n_splits:
                raise ValueError("splits: every repeat must have the same number of folds")
            n_splits = k
            repeats.append(current)
            current = np.full(n_samples, -1, dtype=np.int64)
            k = 0
    if k:
        raise ValueError("splits: the last repeat's test sets do not cover every row")
    return Folds(np.stack(repeats), n_splits=int(n_splits), stratified=stratified, strata=strata)


def check_task(task: str) -> str:
    if task not in HEADLINE_METRIC:
        raise ValueError(f"task={task!r} is unknown; expected one of "
                         f"{', '.join(HEADLINE_METRIC)}")
    return task


def check_target(y, task: str) -> np.ndarray:
    """Validate ``y`` and return it as float (regression) or 0/1 int labels (classification).

    Raises ``ValueError`` naming ``y`` when it is not one-dimensional, has NaN or infinite
    values, has one value only, or (classification) more than two classes. Two class labels
    are mapped to 0 and 1 in sorted order (the larger is the positive class, as in
    scikit-learn).
    """
    check_task(task)
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be one-dimensional; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("y is empty")
    if task == "regression" or arr.dtype.kind in "fc":
        try:
            num = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"y must be numeric for task={task!r}") from None
        bad = ~np.isfinite(num)
        if bad.any():
            raise ValueError(f"y has {int(bad.sum())} NaN or infinite value(s), first at row "
                             f"{int(np.flatnonzero(bad)[0])}")
    values = np.unique(arr)
    if values.size < 2:
        raise ValueError(f"y has one value only ({values[0]!r}); nothing to predict")
    if task == "regression":
        return num
    if values.size > 2:
        raise ValueError(f"y has {values.size} classes; classification here is binary")
    return (arr == values[1]).astype(np.int64)


def _strata(y: np.ndarray, task: str, n_splits: int, n_bins: int) -> tuple[np.ndarray, str]:
    if task == "classification":
        labels = y
        counts = np.bincount(labels, minlength=2)
        if counts.min() < n_splits:
            raise ValueError(
                f"y: class {int(np.argmin(counts))} has {counts.min()} member(s); stratified "
                f"{n_splits}-fold CV (n_splits={n_splits}) needs at least {n_splits} per class"
            )
        return labels, "class"
    n = y.size
    if n < n_splits * n_bins:
        raise ValueError(
            f"n_bins={n_bins}: {n} rows give target-quantile bins of {n // n_bins} row(s), "
            f"fewer than n_splits={n_splits}; need at least n_splits * n_bins = "
            f"{n_splits * n_bins} rows or fewer bins"
        )
    order = np.argsort(y, kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n)
    return (ranks * n_bins) // n, f"{n_bins} target-quantile bins"


def repeated_folds(
    y,
    *,
    task: str,
    n_splits: int = 5,
    n_repeats: int = 10,
    n_bins: int = 10,
    stratify: bool = True,
    random_state: int | np.random.SeedSequence,
) -> Folds:
    """Draw ``n_repeats`` random (stratified) partitions of the rows into ``n_splits`` folds.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The target: class labels (classification) or values (regression).
    task : {"regression", "classification"}
    n_splits : int, default 5
    n_repeats : int, default 10
    n_bins : int, default 10
        Regression only: the number of target-quantile bins to stratify on.
    stratify : bool, default True
        Stratify on the class / target bins. With ``False`` the partition ignores ``y`` (a
        shuffled K-fold) and ``Folds.stratified`` is false, which lets the permutation test
        keep the folds fixed and use its faster paths.
    random_state : int or numpy.random.SeedSequence
        Repeat ``r`` uses the generator of the ``r``-th child of this seed sequence, so the
        first repeats do not change when ``n_repeats`` grows.

    Returns
    -------
    Folds

    Raises
    ------
    ValueError
        Naming the parameter: ``n_splits < 2``, ``n_repeats < 1``, ``n_bins < 1``, a class or
        target bin with fewer than ``n_splits`` members, ``y`` with one value, NaN in ``y``.
    """
    check_task(task)
    if not isinstance(n_splits, int) or n_splits < 2:
        raise ValueError(f"n_splits={n_splits!r} must be an integer >= 2")
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} must be an integer >= 1")
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins={n_bins!r} must be an integer >= 1")
    y = check_target(y, task)
    n = y.size
    if n < n_splits:
        raise ValueError(f"n_splits={n_splits} exceeds the number of rows ({n})")
    if stratify:
        strata, description = _strata(y, task, n_splits, n_bins)
    else:
        strata, description = np.zeros(n, dtype=np.int64), "none"
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    children = as_seed_sequence(random_state).spawn(n_repeats)
    assignment = np.empty((n_repeats, n), dtype=np.int64)
    for r, child in enumerate(children):
        rng = np.random.default_rng(child)
        offset = int(rng.integers(n_splits))
        for rows in groups:
            shuffled = rng.permutation(rows)
            assignment[r, shuffled] = (offset + np.arange(rows.size)) % n_splits
            offset = (offset + rows.size) % n_splits
    return Folds(assignment, n_splits=n_splits, stratified=bool(stratify), strata=description)


# --------------------------------------------------------------------------- metrics


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R2 over axis 0 (columns are separate targets), with scikit-learn's finite convention."""
    ss_res = np.sum((y_true - y_pred) ** 2, axis=0)
    ss_tot = np.sum((y_true - np.mean(y_true, axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    return np.where(ss_tot > 0, r2, np.where(ss_res > 0, 0.0, 1.0))


def _auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic with mid-ranks (ties count one half)."""
    pos = y_true == 1
    n1 = int(pos.sum())
    n0 = y_true.size - n1
    if n1 == 0 or n0 == 0:
        raise ValueError(
            "folds: a test fold holds one class only, so its ROC AUC is undefined; use "
            "stratified folds (repeated_folds(..., stratify=True)) or more rows"
        )
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def fold_score(task: str, y_true: np.ndarray, pred: np.ndarray, metric: str | None = None
               ) -> float:
    """One fold's score: ``metric`` (default the headline metric of ``task``).

    ``pred`` is the predicted value (regression) or the probability of class 1.
    """
    metric = HEADLINE_METRIC[task] if metric is None else metric
    if metric == "r2":
        return float(_r2(y_true, pred))
    if metric == "rmse":
        return float(np.sqrt(np.mean((y_true - pred) ** 2)))
    if metric == "mae":
        return float(np.mean(np.abs(y_true - pred)))
    if metric == "roc_auc":
        return _auc(y_true, pred)
    if metric == "accuracy":
        return float(np.mean((pred > 0.5) == (y_true == 1)))
    if metric == "brier":
        return float(np.mean((pred - y_true) ** 2))
    if metric == "log_loss":
        eps = np.finfo(np.float64).eps
        p = np.clip(pred, eps, 1 - eps)
        return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)))
    raise ValueError(f"metric={metric!r} is unknown")


# --------------------------------------------------------------------------- fitting


def take_rows(X, rows: np.ndarray):
    """Rows of a DataFrame, array or sparse matrix, by position."""
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[rows]
    return X[rows]


def _check_finite(Z, where: str) -> None:
    values = Z.data if sp.issparse(Z) else np.asarray(Z)
    if values.dtype.kind in "fc" and np.isnan(values).any():
        n_bad = int(np.isnan(values).sum())
        raise ValueError(
            f"X: {n_bad} NaN value(s) remain after preprocessing in {where}; the preprocessor "
            "must impute every column (an all-missing column in a training fold?)"
        )


def split_pipeline(model) -> tuple[object | None, object]:
    """``(head, final_estimator)`` of a pipeline; ``(None, model)`` for a bare estimator."""
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model.steps[-1][1]
    return None, model


def predict_target(estimator, Z, task: str) -> np.ndarray:
    """Predicted values (regression) or probabilities of class 1 (classification)."""
    if task == "regression":
        return np.asarray(estimator.predict(Z), dtype=np.float64)
    proba = np.asarray(estimator.predict_proba(Z), dtype=np.float64)
    classes = np.asarray(estimator.classes_)
    hit = np.flatnonzero(classes == 1)
    return proba[:, hit[0]] if hit.size else np.zeros(proba.shape[0])


def fit_predict(model, X_train, y_train, X_test, task: str, where: str = "a fold"
                ) -> tuple[np.ndarray, float]:
    """Fit a clone of ``model`` and predict the test rows; returns ``(pred, fit_seconds)``.

    A pipeline is fitted step by step exactly as ``Pipeline.fit`` does, so that the
    preprocessed design can be checked for NaN before the final estimator sees it.
    """
    est = clone(model)
    head, final = split_pipeline(est)
    start = time.perf_counter()
    if head is None:
        if not isinstance(X_train, pd.DataFrame):
            _check_finite(X_train, where)
        est.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        return predict_target(est, X_test, task), elapsed
    Z = head.fit_transform(X_train, y_train)
    _check_finite(Z, where)
    final.fit(Z, y_train)
    elapsed = time.perf_counter() - start
    Z_test = head.transform(X_test)
    _check_finite(Z_test, where)
    return predict_target(final, Z_test, task), elapsed


def _cv_fold(model, X, y, train, test, task, where):
    pred, elapsed = fit_predict(model, take_rows(X, train), y[train], take_rows(X, test), task,
                                where)
    return pred, elapsed


def check_inputs(X, y, folds: Folds, task: str) -> np.ndarray:
    """Validate ``X``, ``y`` and ``folds`` together; return the checked target."""
    if not isinstance(folds, Folds):
        raise ValueError(f"folds must be a Folds record (see repeated_folds); got "
                         f"{type(folds).__name__}")
    y = check_target(y, task)
    if y.size != folds.n_samples:
        raise ValueError(f"folds cover {folds.n_samples} rows but y has {y.size}")
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_rows != y.size:
        raise ValueError(f"X has {n_rows} rows but y has {y.size}")
    if task == "classification":
        counts = np.bincount(y, minlength=2)
        if counts.min() < folds.n_splits:
            raise ValueError(
                f"y: class {int(np.argmin(counts))} has {counts.min()} member(s), fewer than "
                f"n_splits={folds.n_splits}; some test folds would miss it"
            )
    return y


def cross_validate(
    model,
    X,
    y,
    folds: Folds,
    *,
    task: str,
    n_jobs: int = 1,
    backend: str = "loky",
) -> CVResult:
    """Refit ``model`` in every fold of ``folds`` and score every test fold.

    Parameters
    ----------
    model : estimator or Pipeline
        Cloned for every fold (its own ``random_state`` is kept, so a fold's fit does not
        depend on which worker runs it).
    X : DataFrame or array-like of shape (n_samples, ...)
        The raw table the pipeline takes.
    y : array-like of shape (n_samples,)
    folds : Folds
    task : {"regression", "classification"}
    n_jobs : int, default 1
        Folds fitted in parallel (joblib; ``-1`` for all workers). Does not change any number.
    backend : {"loky", "threading", "dask"}, default "loky"

    Returns
    -------
    CVResult
        Per-fold scores of the headline metric (``roc_auc`` / ``r2``) and the secondary
        metrics (``accuracy, brier, log_loss`` / ``rmse, mae``), out-of-fold predictions per
        repeat, fit times and fold sizes.

    Raises
    ------
    ValueError
        For a bad ``task``, ``y`` (NaN, one value, a class smaller than ``n_splits``),
        ``folds`` / ``y`` / ``X`` length mismatch, or NaN left in ``X`` after preprocessing.
    """
    check_task(task)
    y = check_inputs(X, y, folds, task)
    splits = list(folds.split())
    with executor(n_jobs, backend) as (pool, _):
        outputs = list(pool(
            delayed(_cv_fold)(model, X, y, train, test, task, f"fold {k} of repeat {r}")
            for r, k, train, test in splits
        ))
    metrics = (HEADLINE_METRIC[task], *SECONDARY_METRICS[task])
    shape = (folds.n_repeats, folds.n_splits)
    scores = {m: np.empty(shape) for m in metrics}
    oof = np.empty((folds.n_repeats, folds.n_samples))
    fit_times = np.empty(shape)
    for (r, k, _, test), (pred, elapsed) in zip(splits, outputs, strict=True):
        oof[r, test] = pred
        fit_times[r, k] = elapsed
        for m in metrics:
            scores[m][r, k] = fold_score(task, y[test], pred, m)
    return CVResult(
        task=task,
        metric=HEADLINE_METRIC[task],
        scores=scores,
        y=y,
        folds=np.array(folds.assignment),
        oof=oof,
        fit_times=fit_times,
        n_train=folds.n_train,
        n_test=folds.n_test,
    )
