"""Permutation tests of a cross-validated score (Ojala & Garriga 2010, test 1).

The question of every cell of the study is whether a model's cross-validated score (ROC AUC
or R2, averaged over the ``R x K`` folds of a :class:`~study.resampling.Folds` design) is
better than it would be if the features carried no information about the target. The test
breaks the link between ``X`` and ``y`` by permutation, reruns the *whole* cross-validation
procedure (preprocessing included) on each permuted data set and compares the same statistic.

:func:`permutation_test` is the entry point. :func:`null_distribution` evaluates the
statistic for given index permutations (it is what the test calls, exposed so that the null
can be compared with scikit-learn's ``permutation_test_score`` on the same permutations).

Paths
-----
``generic``
    Any estimator; one refit per (permutation, fold), dispatched with joblib over
    (chunk of permutations, fold) tasks, on the ``loky``, ``threading`` or ``dask`` back end.
``batched``
    Ridge regression (exact solver) and the mean predictor, when the folds do not depend on
    ``y``: for each fold the label-free ``prep`` step is fitted once, the centred Gram matrix
    is factorised once (Cholesky), and all permuted targets are solved as right-hand sides of
    that one factorisation; per-fold R2 is vectorised over permutations. It equals a refit to
    rounding error (about 1e-12; the tests require 1e-8).

References
----------
.. [1] Ojala, M., & Garriga, G. C. (2010). Permutation tests for studying classifier
   performance. Journal of Machine Learning Research 11, 1833-1863.
.. [2] Phipson, B., & Smyth, G. K. (2010). Permutation p-values should never be zero:
   calculating exact p-values when permutations are randomly drawn. Statistical
   Applications in Genetics and Molecular Biology 9(1), Article 39.
.. [3] Besag, J., & Clifford, P. (1991). Sequential Monte Carlo p-values. Biometrika 78(2),
   301-304.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.linalg as la
import scipy.sparse as sp
from joblib import delayed
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from study.parallel import as_seed_sequence, executor
from study.resampling import (
    HEADLINE_METRIC,
    Folds,
    _check_finite,
    _r2,
    check_inputs,
    check_task,
    fit_predict,
    fold_score,
    predict_target,
    take_rows,
)
from study.results import PermutationResult

__all__ = ["METHODS", "SCHEMES", "null_distribution", "permutation_test"]

#: Values of ``method``.
METHODS = ("auto", "generic", "batched")

#: Permutation schemes, chosen from ``folds.stratified``.
SCHEMES = ("follow_labels", "permute_y")

#: Default permutations per task (generic path) and right-hand sides per solve (batched).
_DEFAULT_CHUNK = {"generic": 16, "batched": 256}

#: Ridge solvers that compute the exact optimum on dense input.
_EXACT_RIDGE_SOLVERS = ("auto", "cholesky", "svd")


# --------------------------------------------------------------------------- model analysis


def _split_prep(model) -> tuple[object | None, object]:
    """``(prep, rest)``: the label-free ``"prep"`` step of a pipeline and what follows it."""
    if isinstance(model, Pipeline) and len(model.steps) > 1 and model.steps[0][0] == "prep":
        rest = model[1:] if len(model.steps) > 2 else model.steps[-1][1]
        return model.steps[0][1], rest
    return None, model


def _linear_smoother(model) -> tuple | None:
    """``("ridge", alpha, fit_intercept)``, ``("mean",)`` or ``None`` if not batchable."""
    prep, rest = _split_prep(model)
    if prep is None and isinstance(model, Pipeline):
        return None  # steps of unknown label-dependence before the estimator
    if isinstance(rest, Ridge):
        alpha = rest.alpha
        if (
            np.ndim(alpha) == 0
            and float(alpha) > 0
            and not rest.positive
            and rest.solver in _EXACT_RIDGE_SOLVERS
        ):
            return ("ridge", float(alpha), bool(rest.fit_intercept))
        return None
    if isinstance(rest, DummyRegressor) and rest.strategy == "mean":
        return ("mean",)
    return None


def _dense(Z) -> np.ndarray:
    if sp.issparse(Z):
        Z = Z.toarray()
    elif isinstance(Z, pd.DataFrame):
        Z = Z.to_numpy()
    return np.ascontiguousarray(Z, dtype=np.float64)


# --------------------------------------------------------------------------- worker tasks


def _prep_fold(prep, X, train, test, where):
    """Fit a clone of the label-free ``prep`` on the training rows (``y`` is never passed)."""
    fitted = clone(prep)
    Z_train = fitted.fit_transform(take_rows(X, train))
    Z_test = fitted.transform(take_rows(X, test))
    _check_finite(Z_train, where)
    _check_finite(Z_test, where)
    return Z_train, Z_test


def _follow_labels_task(model, X, y, train, test, perms, task, where):
    """Fold scores when the fold follows its labels: train on ``X[p[train]]`` with ``y[train]``."""
    out = np.empty(len(perms))
    y_train, y_test = y[train], y[test]
    for j, p in enumerate(perms):
        pred, _ = fit_predict(model, take_rows(X, p[train]), y_train, take_rows(X, p[test]),
                              task, where)
        out[j] = fold_score(task, y_test, pred)
    return out


def _permute_y_task(model, X_train, X_test, y, train, test, perms, task, where, prepped):
    """Fold scores with fixed folds and permuted target ``y[p]``.

    With ``prepped`` the inputs are the fold's preprocessed design, fitted once, and
    ``model`` is what follows the ``prep`` step.
    """
    out = np.empty(len(perms))
    for j, p in enumerate(perms):
        y_train, y_test = y[p[train]], y[p[test]]
        if prepped:
            est = clone(model)
            est.fit(X_train, y_train)
            pred = predict_target(est, X_test, task)
        else:
            pred, _ = fit_predict(model, X_train, y_train, X_test, task, where)
        out[j] = fold_score(task, y_test, pred)
    return out


# --------------------------------------------------------------------------- engines


class _Engine:
    """Evaluates the fold scores of blocks of permutations, in order."""

    method: str
    scheme: str

    def iter_blocks(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def observed(self) -> np.ndarray:
        identity = np.arange(self.n_samples)[None, :]
        (scores,) = self.iter_blocks([identity])  # consume the generator to the end
        return scores[0]


class _GenericEngine(_Engine):
    method = "generic"

    def __init__(self, model, X, y, folds: Folds, task: str, scheme: str, pool, n_workers):
        self.model, self.X, self.y, self.task, self.scheme = model, X, y, task, scheme
        self.pool, self.n_workers = pool, n_workers
        self.n_samples = folds.n_samples
        self.shape = (folds.n_repeats, folds.n_splits)
        self.splits = [(train, test, f"fold {k} of repeat {r}")
                       for r, k, train, test in folds.split()]
        self.prepped = False
        prep, rest = _split_prep(model)
        if scheme == "permute_y" and prep is not None:
            # the label-free preprocessing is fitted once per fold and reused by every
            # permutation: identical to refitting it, since it never sees y
            self.prepped = True
            self.rest = rest
            self.designs = list(pool(
                delayed(_prep_fold)(prep, X, train, test, where)
                for train, test, where in self.splits
            ))

    def _tasks(self, blocks: Iterable[np.ndarray]):
        for perms in blocks:
            for f, (train, test, where) in enumerate(self.splits):
                if self.scheme == "follow_labels":
                    yield delayed(_follow_labels_task)(self.model, self.X, self.y, train, test,
                                                       perms, self.task, where)
                elif self.prepped:
                    Z_train, Z_test = self.designs[f]
                    yield delayed(_permute_y_task)(self.rest, Z_train, Z_test, self.y, train,
                                                   test, perms, self.task, where, True)
                else:
                    yield delayed(_permute_y_task)(self.model, take_rows(self.X, train),
                                                   take_rows(self.X, test), self.y, train,
                                                   test, perms, self.task, where, False)

    def iter_blocks(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        n_folds = len(self.splits)
        pending: list[np.ndarray] = []
        for scores in self.pool(self._tasks(blocks)):
            pending.append(scores)
            if len(pending) == n_folds:
                yield np.stack(pending, axis=1).reshape(len(scores), *self.shape)
                pending = []


class _BatchedEngine(_Engine):
    """Closed-form ridge / mean predictor for all permuted targets of a block at once."""

    method = "batched"
    scheme = "permute_y"

    def __init__(self, model, X, y, folds: Folds, kind: tuple, pool):
        self.y = y
        self.kind = kind
        self.n_samples = folds.n_samples
        self.shape = (folds.n_repeats, folds.n_splits)
        splits = [(train, test, f"fold {k} of repeat {r}") for r, k, train, test in folds.split()]
        self.splits = [(train, test) for train, test, _ in splits]
        self.factors: list[tuple | None] = [None] * len(splits)
        if kind[0] != "ridge":
            return  # the mean predictor ignores X
        prep, _ = _split_prep(model)
        if prep is None:
            designs = [(take_rows(X, train), take_rows(X, test)) for train, test, _ in splits]
        else:
            designs = list(pool(delayed(_prep_fold)(prep, X, train, test, where)
                                for train, test, where in splits))
        _, alpha, fit_intercept = kind
        for f, (Z_train, Z_test) in enumerate(designs):
            Z_train, Z_test = _dense(Z_train), _dense(Z_test)
            _check_finite(Z_train, splits[f][2])
            _check_finite(Z_test, splits[f][2])
            if fit_intercept:
                offset = Z_train.mean(axis=0)
                Z_train = Z_train - offset
                Z_test = Z_test - offset
            gram = Z_train.T @ Z_train
            gram.flat[:: gram.shape[0] + 1] += alpha
            self.factors[f] = (Z_train, Z_test, la.cho_factor(gram, lower=False,
                                                               check_finite=False))

    def _fold(self, f: int, perms: np.ndarray) -> np.ndarray:
        train, test = self.splits[f]
        Y_train = self.y[perms[:, train]].T  # (n_train, m)
        Y_test = self.y[perms[:, test]].T  # (n_test, m)
        if self.kind[0] == "mean":
            pred = np.broadcast_to(Y_train.mean(axis=0), Y_test.shape)
            return _r2(Y_test, pred)
        Z_train, Z_test, factor = self.factors[f]
        fit_intercept = self.kind[2]
        if fit_intercept:
            y_offset = Y_train.mean(axis=0)
            Y_train = Y_train - y_offset
        coef = la.cho_solve(factor, Z_train.T @ Y_train, check_finite=False)  # (p, m)
        pred = Z_test @ coef
        if fit_intercept:
            pred += y_offset
        return _r2(Y_test, pred)

    def iter_blocks(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for perms in blocks:
            perms = np.asarray(perms)
            scores = np.stack([self._fold(f, perms) for f in range(len(self.splits))], axis=1)
            yield scores.reshape(perms.shape[0], *self.shape)


def _make_engine(model, X, y, folds: Folds, task: str, method: str, pool, n_workers) -> _Engine:
    scheme = "follow_labels" if folds.stratified else "permute_y"
    kind = _linear_smoother(model) if task == "regression" else None
    if method == "batched":
        if folds.stratified:
            raise ValueError(
                "method='batched' needs folds that do not depend on y (folds.stratified is "
                f"True, stratified on {folds.strata}): with stratified folds each permutation "
                "re-forms the folds, which follow the labels, so the training rows, their "
                "preprocessing and the design matrix change with every permutation and no "
                "factorisation can be shared; use method='generic', or folds from "
                "repeated_folds(..., stratify=False)"
            )
        if kind is None:
            raise ValueError(
                "method='batched' solves linear smoothers in closed form and supports Ridge "
                f"(alpha > 0, solver in {_EXACT_RIDGE_SOLVERS}, positive=False) and "
                "DummyRegressor(strategy='mean'), bare or after a label-free 'prep' pipeline "
                f"step, for task='regression'; got {_describe(model)} for task={task!r}. "
                "Use method='generic'"
            )
    if kind is not None and not folds.stratified and method in ("auto", "batched"):
        return _BatchedEngine(model, X, y, folds, kind, pool)
    return _GenericEngine(model, X, y, folds, task, scheme, pool, n_workers)


def _describe(model) -> str:
    _, rest = _split_prep(model)
    return type(rest).__name__ if not isinstance(rest, Pipeline) else repr(rest)


# --------------------------------------------------------------------------- validation


def _check_positive_int(value, name: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _check_common(task, method, chunk_size, progress):
    check_task(task)
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; expected one of {', '.join(METHODS)}")
    _check_positive_int(chunk_size, "chunk_size", allow_none=True)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress={progress!r} must be a callable(n_done, n_total) or None")


def _check_permutations(permutations, n: int) -> np.ndarray:
    perms = np.asarray(permutations)
    if perms.ndim != 2 or perms.shape[1] != n or perms.shape[0] < 1:
        raise ValueError(
            f"permutations must have shape (n_permutations, {n}); got {perms.shape}"
        )
    message = f"permutations: every row must be a permutation of 0..{n - 1}"
    if perms.dtype.kind not in "iu" or perms.min() < 0 or perms.max() >= n:
        raise ValueError(message)
    perms = perms.astype(np.intp, copy=False)
    seen = np.zeros(perms.shape, dtype=bool)
    seen[np.arange(perms.shape[0])[:, None], perms] = True
    if not seen.all():
        raise ValueError(message)
    return perms


def _lower_median(values: np.ndarray) -> float:
    """The median of an odd number of values, the lower of the two middle ones otherwise."""
    middle = (values.size - 1) // 2
    return float(np.partition(values, middle)[middle])


def _statistic(fold_scores: np.ndarray) -> np.ndarray:
    """Mean fold score per permutation: ``(m, R, K) -> (m,)``."""
    return fold_scores.reshape(fold_scores.shape[0], -1).mean(axis=1)


# --------------------------------------------------------------------------- public API


def null_distribution(
    model,
    X,
    y,
    folds: Folds,
    permutations,
    *,
    task: str,
    method: str = "auto",
    chunk_size: int | None = None,
    n_jobs: int = 1,
    backend: str = "loky",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, np.ndarray]:
    """The observed statistic and its value under given index permutations.

    Parameters
    ----------
    model, X, y, folds, task, method, chunk_size, n_jobs, backend, progress
        As in :func:`permutation_test`.
    permutations : array-like of int of shape (n_permutations, n_samples)
        Row ``b`` is a permutation ``p`` of ``0 .. n_samples - 1``. With folds that do not
        depend on ``y`` the folds stay fixed and the target is ``y[p]`` (what scikit-learn's
        ``permutation_test_score`` does with ``p = random_state.permutation(n)``); with
        stratified folds fold ``(r, k)`` trains on ``X[p[train_rk]]`` with ``y[train_rk]``
        and tests on ``X[p[test_rk]]`` against ``y[test_rk]`` (the folds follow the labels).

    Returns
    -------
    statistic : float
        The observed mean fold score (the identity permutation, by the same code path).
    null : ndarray of shape (n_permutations,)
        The statistic under each permutation, in order.
    """
    _check_common(task, method, chunk_size, progress)
    y = check_inputs(X, y, folds, task)
    perms = _check_permutations(permutations, folds.n_samples)
    total = perms.shape[0]
    with executor(n_jobs, backend) as (pool, n_workers):
        engine = _make_engine(model, X, y, folds, task, method, pool, n_workers)
        size = chunk_size or _DEFAULT_CHUNK[engine.method]
        statistic = float(_statistic(engine.observed()[None])[0])
        blocks = (perms[s:s + size] for s in range(0, total, size))
        values = []
        done = 0
        for scores in engine.iter_blocks(blocks):
            values.append(_statistic(scores))
            done += scores.shape[0]
            if progress is not None:
                progress(done, total)
    return statistic, np.concatenate(values)


def permutation_test(
    model,
    X,
    y,
    folds: Folds,
    *,
    task: str,
    n_permutations: int = 1000,
    sequential: int | None = None,
    method: str = "auto",
    chunk_size: int | None = None,
    n_jobs: int = 1,
    backend: str = "loky",
    random_state: int | np.random.SeedSequence,
    progress: Callable[[int, int], None] | None = None,
) -> PermutationResult:
    r"""Permutation test of a cross-validated score (Ojala & Garriga 2010, test 1).

    Statistic
    ---------
    ``T`` is the mean over all ``R x K`` folds of the headline fold score (ROC AUC of the
    predicted probability of class 1, or R2), exactly ``CVResult.statistic`` of
    :func:`~study.resampling.cross_validate` on the same folds. Permutation ``b`` gives
    ``T_b``; the one-sided p-value for "better than chance" is

    .. math:: p = \frac{1 + \#\{b : T_b \ge T_{obs}\}}{1 + B}

    (Phipson & Smyth 2010), never zero; ties count as exceedances, within a relative
    tolerance of ``100 * eps`` (as :func:`scipy.stats.permutation_test`), so rounding can only
    make the test conservative.

    The two-sided p-value counts ``|T_b - c| >= |T_obs - c|``, with ``c`` the median of the
    null. The centre is not 0 (or 0.5): the cross-validated R2 of a model with no
    information is negative in expectation (about ``-(1/n_test + 1/n_train)`` for the mean
    predictor, more for a model that fits noise), so "far from chance" must be measured from
    where chance actually lies. ``c`` is the median of the ``B + 1`` values ``T_obs, T_1 ..
    T_B`` (the lower of the two middle values when ``B + 1`` is even): a symmetric function
    of exchangeable values, so the distances ``|T - c|`` are exchangeable too and the
    two-sided p is exact. (The median of the null alone is not symmetric in ``T_obs``, and
    the midpoint of two middle values would make those two distances tie by construction,
    so that ``p = B / (B + 1)`` could never occur.)

    Permutation scheme
    ------------------
    The scheme depends on whether the partition depends on ``y`` (``folds.stratified``).

    *Stratified folds: the folds follow the labels.* A row permutation ``sigma_b`` is
    drawn; fold ``(r, k)`` of permutation ``b`` trains on rows ``sigma_b[train_rk]`` of ``X``
    with labels ``y[train_rk]`` and tests on ``X[sigma_b[test_rk]]`` against ``y[test_rk]``.
    Pointwise this is ``y`` permuted by ``sigma_b^{-1}``, each label carrying its fold with
    it, so every permuted data set is stratified exactly like the observed one (the same
    per-fold class or bin counts). Exactness: under H0 (rows exchangeable, ``X``
    independent of ``y``) ``X`` is independent of ``(y, folds)``, since the folds are a
    function of ``y`` and of a seed only; hence ``(X[sigma], y, folds)`` has the law of
    ``(X, y, folds)`` for every ``sigma``. Conditionally on ``(y, folds)`` and on the
    multiset of rows of ``X``, ``X`` is a uniformly random arrangement ``X_0[tau]``, and
    ``tau, tau sigma_1, ..., tau sigma_B`` are independent and uniform when the
    ``sigma_b`` are; ``T_obs, T_1, .., T_B`` (one deterministic function of these
    arrangements) are therefore exchangeable and the p-value above is exact. Every fold is
    refitted from scratch, preprocessing included, since the training rows differ. Keeping
    stratified folds fixed while permuting ``y`` would *not* be exact: the null partitions
    would no longer be stratified for their labels, which lowers CV R2 by about
    ``1/n_test + 1/n_train`` (the training mean no longer matches the test fold's) and makes
    the test anti-conservative.

    *Folds independent of y: permute y.* The folds stay fixed and ``T_b = CV(X, y[pi_b])``
    on the same folds; exact because the folds are independent of ``y``, and exactly what
    scikit-learn's ``permutation_test_score`` does with a ``y``-independent splitter. The
    label-free ``"prep"`` step of a pipeline is then fitted once per fold and reused by all
    permutations (identical results: it never sees ``y``), and ridge / the mean predictor
    can take the batched path.

    Sequential stopping
    -------------------
    With ``sequential=h`` the permutations are evaluated in order and the test stops at the
    first ``L`` with ``h`` exceedances, ``p = h / L`` (Besag & Clifford 1991); if fewer than
    ``h`` of the ``B`` permutations exceed, ``p = (g + 1) / (B + 1)``. Under H0 this p-value
    satisfies ``P(p <= a) = a`` at every value ``a`` it can take, so it is exact, while a
    clearly null cell costs about ``h / p`` permutations instead of ``B``. Permutations are
    evaluated in chunks of ``chunk_size`` (a size that does not depend on ``n_jobs``), the rule
    is applied in permutation order and evaluations past ``L`` are discarded, so the result is
    identical for any ``n_jobs`` and back end. When the test stops early the two-sided
    p-value uses the ``L`` evaluated permutations; the stopping rule is one-sided, so that
    value is descriptive rather than exact.

    Multiplicity
    ------------
    The smallest reachable p is ``1 / (B + 1)``. With a family of about 12 tests under Holm
    the smallest p must be below ``0.05 / 12``, so ``B`` must exceed ``12 / 0.05 - 1 = 239``
    for any cell to reach significance at all; use ``n_permutations >= 999`` with
    ``sequential`` about 10, which spends few refits on null cells and keeps full
    resolution for the others.

    Parameters
    ----------
    model : estimator or Pipeline
        Refitted (as a clone) in every fold of every permutation; its own ``random_state`` is
        fixed, so the statistic is a deterministic function of the data. A pipeline whose
        first step is named ``"prep"`` declares that step label-free (it must never look at
        ``y``); that is what allows it to be fitted once per fold.
    X : DataFrame or array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)
    folds : Folds
    task : {"regression", "classification"}
    n_permutations : int, default 1000
        The budget ``B``.
    sequential : int, optional
        Besag-Clifford stopping after ``h = sequential`` exceedances. ``None`` evaluates all
        ``B`` permutations.
    method : {"auto", "generic", "batched"}, default "auto"
        ``"auto"`` takes the batched path for ridge and the mean predictor when the folds do
        not depend on ``y``, the generic path otherwise. ``"batched"`` raises ``ValueError``
        when it does not apply.
    chunk_size : int, optional
        Permutations per task (generic path, default 16) or right-hand sides per solve
        (batched path, default 256). It bounds memory and sets the granularity of sequential
        stopping and progress; it never changes a result.
    n_jobs : int, default 1
        joblib workers (``-1`` for all). Never changes a result.
    backend : {"loky", "threading", "dask"}, default "loky"
        ``"dask"`` uses joblib's ``dask.distributed`` back end and needs a running
        ``distributed.Client``; ``n_jobs`` then counts Dask worker threads.
    random_state : int or numpy.random.SeedSequence
        Permutation ``b`` is drawn from the ``b``-th child of this seed sequence, spawned in
        the parent before dispatch; the first ``B`` permutations do not change when the budget
        grows.
    progress : callable, optional
        Called as ``progress(n_done, n_total)`` after each chunk, with ``n_total = B``.

    Returns
    -------
    PermutationResult
        ``statistic``, one-sided ``pvalue``, ``pvalue_two_sided``, the evaluated
        ``null_distribution`` (in permutation order), ``n_permutations`` evaluated,
        ``stopped_early``, ``method``, and in ``extra``: ``scheme``, ``metric``,
        ``n_exceedances``, ``budget``, ``sequential``, ``center``, ``fold_scores`` (the
        observed ``(R, K)`` fold scores), ``chunk_size`` and the seed (``entropy``,
        ``spawn_key``).

    Raises
    ------
    ValueError
        Naming the parameter: ``n_permutations < 1``, ``sequential < 1``, an unknown
        ``method``, ``task`` or ``backend``, ``method="batched"`` where it does not apply,
        ``folds`` / ``y`` / ``X`` length mismatch, ``y`` with one value or NaN, a class with
        fewer than ``n_splits`` members.

    References
    ----------
    .. [1] Ojala, M., & Garriga, G. C. (2010). Permutation tests for studying classifier
       performance. JMLR 11, 1833-1863.
    .. [2] Phipson, B., & Smyth, G. K. (2010). Permutation p-values should never be zero.
       Stat. Appl. Genet. Mol. Biol. 9(1), 39.
    .. [3] Besag, J., & Clifford, P. (1991). Sequential Monte Carlo p-values. Biometrika
       78(2), 301-304.
    """
    _check_common(task, method, chunk_size, progress)
    budget = _check_positive_int(n_permutations, "n_permutations")
    h = _check_positive_int(sequential, "sequential", allow_none=True)
    seed = as_seed_sequence(random_state)
    y = check_inputs(X, y, folds, task)
    n = folds.n_samples
    children = seed.spawn(budget)

    def block(start: int, stop: int) -> np.ndarray:
        return np.stack([np.random.default_rng(children[b]).permutation(n)
                         for b in range(start, stop)])

    null: list[float] = []
    exceed = 0
    stopped = False
    with executor(n_jobs, backend) as (pool, n_workers):
        engine = _make_engine(model, X, y, folds, task, method, pool, n_workers)
        size = chunk_size or _DEFAULT_CHUNK[engine.method]
        observed_scores = engine.observed()
        observed = float(_statistic(observed_scores[None])[0])
        gamma = 100 * np.finfo(np.float64).eps * abs(observed)
        starts = list(range(0, budget, size))
        if h is None or engine.method == "batched":
            waves = [starts]
        else:
            # enough chunks in flight to keep every worker busy; results do not depend on it
            per_wave = max(1, math.ceil(2 * n_workers / folds.n_folds))
            waves = [starts[i:i + per_wave] for i in range(0, len(starts), per_wave)]
        for wave in waves:
            blocks = (block(s, min(s + size, budget)) for s in wave)
            for scores in engine.iter_blocks(blocks):
                for value in _statistic(scores):
                    null.append(float(value))
                    exceed += bool(value >= observed - gamma)
                    if h is not None and exceed >= h:
                        stopped = True
                        break
                if progress is not None:
                    progress(len(null), budget)
                if stopped:
                    break
            if stopped:
                break
    null_arr = np.asarray(null)
    n_done = null_arr.size
    pvalue = h / n_done if stopped else (exceed + 1) / (budget + 1)
    center = _lower_median(np.append(null_arr, observed))
    distance = abs(observed - center)
    gamma2 = 100 * np.finfo(np.float64).eps * max(abs(observed), abs(center))
    extreme = int(np.sum(np.abs(null_arr - center) >= distance - gamma2))
    pvalue_two_sided = (extreme + 1) / (n_done + 1)
    return PermutationResult(
        statistic=observed,
        pvalue=float(pvalue),
        pvalue_two_sided=float(pvalue_two_sided),
        null_distribution=null_arr,
        n_permutations=int(n_done),
        stopped_early=stopped,
        method=engine.method,
        extra={
            "scheme": engine.scheme,
            "metric": HEADLINE_METRIC[task],
            "n_exceedances": int(exceed),
            "budget": budget,
            "sequential": h,
            "center": center,
            "fold_scores": observed_scores,
            "chunk_size": size,
            "entropy": seed.entropy,
            "spawn_key": tuple(seed.spawn_key),
        },
    )
