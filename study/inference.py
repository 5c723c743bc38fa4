"""Fold-level inference, equivalence, multiplicity and the headline table.

Two complementary views of a cross-validated model are combined here:

* the *fold-level* view treats the ``J = n_repeats * n_splits`` fold scores
  as the data. Because training sets overlap, fold scores are positively
  correlated and the naive variance ``s**2 / J`` is too small; the corrected
  resampled t of Nadeau & Bengio (2003) inflates it to
  ``s**2 (1/J + n_test/n_train)``. This view includes the variability due
  to refitting the model, and is used for the comparison with the dummy
  baseline and for the equivalence (TOST) tests;
* the *row-level* view holds the out-of-fold predictions fixed and asks how
  much the metric would vary over new evaluation rows: DeLong's variance of
  the AUC (here) and the bootstrap intervals of :mod:`study.intervals`.

The verdict of the headline table combines the permutation test (is there any
signal?) with the equivalence test (is the signal, if any, too small to
matter?).

References
----------
.. [1] C. Nadeau and Y. Bengio, "Inference for the generalization error",
   Machine Learning 52(3):239-281, 2003.
.. [2] E. R. DeLong, D. M. DeLong and D. L. Clarke-Pearson, "Comparing the
   areas under two or more correlated receiver operating characteristic
   curves: a nonparametric approach", Biometrics 44(3):837-845, 1988.
.. [3] J. A. Hanley and B. J. McNeil, "The meaning and use of the area under
   a receiver operating characteristic (ROC) curve", Radiology
   143(1):29-36, 1982.
.. [4] D. Lakens, "Equivalence tests: a practical primer for t tests,
   correlations, and meta-analyses", Social Psychological and Personality
   Science 8(4):355-362, 2017.
.. [5] S. Holm, "A simple sequentially rejective multiple test procedure",
   Scandinavian Journal of Statistics 6(2):65-70, 1979.
.. [6] Y. Benjamini and Y. Hochberg, "Controlling the false discovery rate: a
   practical and powerful approach to multiple testing", Journal of the Royal
   Statistical Society B 57(1):289-300, 1995.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from numbers import Real

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.stats.multitest import multipletests

from study.intervals import BootstrapResult, _placement_values
from study.results import CVResult, PermutationResult

__all__ = [
    "AUC_EQUIVALENCE_MARGIN",
    "GREATER_IS_BETTER",
    "PRIMARY_METRICS",
    "R2_EQUIVALENCE_MARGIN",
    "TABLE_COLUMNS",
    "BaselineComparison",
    "Cell",
    "CorrectedTInterval",
    "CorrectedTTest",
    "DeLongCVResult",
    "TOSTResult",
    "adjust_pvalues",
    "auc_equivalence",
    "build_pvalue_table",
    "compare_to_baseline",
    "corrected_t_interval",
    "corrected_t_test",
    "delong_auc",
    "delong_cv",
    "r2_non_superiority",
    "tost",
    "verdict",
]

#: Equivalence margin around chance for the cross-validated ROC-AUC:
#: the equivalence region is ``0.5 - margin < AUC < 0.5 + margin``.
AUC_EQUIVALENCE_MARGIN: float = 0.02
#: Largest R2 improvement over the dummy baseline that counts as negligible.
R2_EQUIVALENCE_MARGIN: float = 0.01

#: Direction of every known fold metric.
GREATER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "accuracy": True,
    "brier": False,
    "log_loss": False,
    "r2": True,
    "rmse": False,
    "mae": False,
}
#: Canonical metric order per task framing (primary metric first).
PRIMARY_METRICS: dict[str, str] = {"classification": "roc_auc", "regression": "r2"}
_METRIC_ORDER = ("roc_auc", "accuracy", "brier", "log_loss", "r2", "rmse", "mae")

#: Columns of :func:`build_pvalue_table`, in order.
TABLE_COLUMNS: tuple[str, ...] = (
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
)

_ALTERNATIVES = ("greater", "less", "two-sided")


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


#: The smallest positive p-value reported (the smallest normal double).
_TINY = float(np.finfo(float).tiny)


def _check_unit_interval(value, name: str) -> float:
    if not isinstance(value, Real) or isinstance(value, bool) or not 0 < value < 1:
        raise ValueError(f"`{name}` must be a number strictly between 0 and 1.")
    return float(value)


def _check_positive(value, name: str) -> float:
    if not isinstance(value, Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"`{name}` must be a positive number.")
    return float(value)


def _check_alternative(alternative) -> str:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"`alternative` must be one of {_ALTERNATIVES}; got {alternative!r}.")
    return alternative


def _t_pvalue(t: float, df: float, alternative: str) -> float:
    if alternative == "greater":
        return float(stats.t.sf(t, df))
    if alternative == "less":
        return float(stats.t.cdf(t, df))
    return float(min(1.0, 2.0 * stats.t.sf(abs(t), df)))


# --------------------------------------------------------------------------
# Nadeau-Bengio corrected resampled t
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectedTInterval:
    """Corrected resampled-t confidence interval of a mean fold score.

    Unpacks as ``mean, low, high``.

    Attributes
    ----------
    mean, low, high : float
        Mean of the ``J`` fold scores and the interval bounds.
    se : float
        Standard error ``sqrt(s**2 * (1/J + n_test/n_train))`` (without the
        ``n_test/n_train`` term when ``corrected`` is false).
    df : int
        Degrees of freedom, ``J - 1``.
    confidence_level : float
    corrected : bool
        Whether the Nadeau-Bengio correction was applied.
    """

    mean: float
    low: float
    high: float
    se: float
    df: int
    confidence_level: float
    corrected: bool = True

    def __iter__(self):
        return iter((self.mean, self.low, self.high))


@dataclass(frozen=True)
class CorrectedTTest:
    """Corrected resampled t test of the mean fold score (or difference).

    Unpacks as ``statistic, pvalue``.

    Attributes
    ----------
    statistic : float
        ``(mean - null) / se``.
    pvalue : float
    estimate : float
        Mean of the ``J`` values.
    se : float
        Corrected standard error.
    df : int
        ``J - 1``.
    null : float
    alternative : {"greater", "less", "two-sided"}
    corrected : bool
    """

    statistic: float
    pvalue: float
    estimate: float
    se: float
    df: int
    null: float
    alternative: str
    corrected: bool = True

    def __iter__(self):
        return iter((self.statistic, self.pvalue))


def _corrected_moments(values, n_train, n_test, corrected: bool) -> tuple[float, float, int]:
    """Mean, corrected standard error and degrees of freedom of fold values."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError("`scores` must hold at least two fold values (J >= 2).")
    if not np.all(np.isfinite(x)):
        raise ValueError("`scores` must be finite.")
    try:
        n_tr, n_te = np.broadcast_arrays(
            np.asarray(n_train, dtype=np.float64), np.asarray(n_test, dtype=np.float64)
        )
    except ValueError:
        raise ValueError("`n_train` and `n_test` must have compatible shapes.") from None
    if n_tr.size == 0 or not np.all(n_tr > 0) or not np.all(np.isfinite(n_tr)):
        raise ValueError("`n_train` must contain positive fold sizes.")
    if not np.all(n_te > 0) or not np.all(np.isfinite(n_te)):
        raise ValueError("`n_test` must contain positive fold sizes.")
    if n_tr.size not in (1, x.size):
        raise ValueError("`n_train` and `n_test` must be scalars or have one entry per fold.")
    j = x.size
    # Fold sizes differ by at most one row, so the mean ratio is used.
    ratio = float(np.mean(n_te / n_tr)) if corrected else 0.0
    # np.ptp guards against round-off turning a constant sample into a tiny variance
    s2 = float(np.var(x, ddof=1)) if np.ptp(x) > 0 else 0.0
    var = s2 * (1.0 / j + ratio)
    return float(x.mean()), math.sqrt(var), j - 1


def corrected_t_interval(
    scores,
    *,
    n_train,
    n_test,
    confidence_level: float = 0.95,
    corrected: bool = True,
) -> CorrectedTInterval:
    """Nadeau-Bengio corrected resampled-t interval of the mean fold score.

    Parameters
    ----------
    scores : array_like
        The ``J = n_repeats * n_splits`` fold scores (any shape; flattened).
    n_train, n_test : int or array_like
        Training and test fold sizes: scalars or one entry per fold (e.g.
        ``CVResult.n_train``); the mean of ``n_test / n_train`` is used.
    confidence_level : float, default: 0.95
    corrected : bool, default: True
        If false, use the naive variance ``s**2 / J`` (the one-sample t
        interval), which is anti-conservative for cross-validation.

    Returns
    -------
    CorrectedTInterval

    Notes
    -----
    The variance of the mean of ``J`` fold scores is estimated by
    ``(1/J + n_test/n_train) * s**2`` with ``s**2`` the sample variance of the
    fold scores, and a t distribution with ``J - 1`` degrees of freedom is
    used [1]_.

    References
    ----------
    .. [1] C. Nadeau and Y. Bengio, "Inference for the generalization error",
       Machine Learning 52(3):239-281, 2003.
    """
    confidence_level = _check_unit_interval(confidence_level, "confidence_level")
    mean, se, df = _corrected_moments(scores, n_train, n_test, bool(corrected))
    half = float(stats.t.ppf(0.5 + confidence_level / 2.0, df)) * se
    return CorrectedTInterval(
        mean=mean,
        low=mean - half,
        high=mean + half,
        se=se,
        df=df,
        confidence_level=confidence_level,
        corrected=bool(corrected),
    )


def corrected_t_test(
    diffs,
    *,
    n_train,
    n_test,
    null: float = 0.0,
    alternative: str = "greater",
    corrected: bool = True,
) -> CorrectedTTest:
    """Nadeau-Bengio corrected resampled t test of the mean of fold values.

    Parameters
    ----------
    diffs : array_like
        ``J`` fold values, typically paired differences model - baseline.
    n_train, n_test : int or array_like
        Fold sizes, as in :func:`corrected_t_interval`.
    null : float, default: 0.0
        Value of the mean under the null hypothesis.
    alternative : {"greater", "less", "two-sided"}, default: "greater"
    corrected : bool, default: True
        If false, the ordinary one-sample t test.

    Returns
    -------
    CorrectedTTest
        When all values are equal the standard error is zero: the statistic is
        then ``+-inf`` (p = 0 or 1) if the mean differs from `null`, and 0 with
        p = 1 (no evidence) if it equals `null`.

    References
    ----------
    .. [1] C. Nadeau and Y. Bengio, "Inference for the generalization error",
       Machine Learning 52(3):239-281, 2003.
    """
    alternative = _check_alternative(alternative)
    if not isinstance(null, Real) or not math.isfinite(null):
        raise ValueError("`null` must be a finite number.")
    mean, se, df = _corrected_moments(diffs, n_train, n_test, bool(corrected))
    delta = mean - float(null)
    if se > 0:
        t = delta / se
        p = _t_pvalue(t, df, alternative)
    elif delta == 0:
        t, p = 0.0, 1.0
    else:
        t = math.copysign(math.inf, delta)
        p = _t_pvalue(t, df, alternative)
    return CorrectedTTest(
        statistic=float(t),
        pvalue=float(p),
        estimate=mean,
        se=se,
        df=df,
        null=float(null),
        alternative=alternative,
        corrected=bool(corrected),
    )


# --------------------------------------------------------------------------
# Model versus dummy baseline on identical folds
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineComparison:
    """Paired fold-level comparison of a model with its dummy baseline.

    Attributes
    ----------
    metric : str
    estimate, baseline : float
        Mean fold score of the model and of the baseline.
    diff : float
        ``estimate - baseline``.
    ci_low, ci_high : float
        Corrected resampled-t interval of the difference.
    statistic, pvalue : float
        Corrected resampled t and its one-sided p-value for "model better"
        (difference > 0 for metrics where greater is better, < 0 otherwise).
    se : float
    df : int
    greater_is_better : bool
    diffs : ndarray of shape (n_repeats, n_splits)
        The paired fold differences.
    """

    metric: str
    estimate: float
    baseline: float
    diff: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    se: float
    df: int
    greater_is_better: bool
    diffs: np.ndarray = field(repr=False)


def _check_same_folds(cv: CVResult, baseline_cv: CVResult) -> None:
    if cv.folds.shape != baseline_cv.folds.shape or not np.array_equal(cv.folds, baseline_cv.folds):
        raise ValueError(
            "`baseline_cv` was not evaluated on the folds of `cv`; the paired "
            "comparison needs identical folds."
        )
    if not np.array_equal(np.asarray(cv.y), np.asarray(baseline_cv.y)):
        raise ValueError("`baseline_cv` was evaluated on a different target `y` than `cv`.")


def compare_to_baseline(
    cv: CVResult,
    baseline_cv: CVResult,
    *,
    metric: str | None = None,
    confidence_level: float = 0.95,
) -> BaselineComparison:
    """Corrected resampled t comparison of a model with the dummy baseline.

    The fold scores of the model and of the baseline are paired fold by fold
    (the folds must be identical) and the differences ``model - baseline``
    are tested with the Nadeau-Bengio corrected resampled t, one-sided in the
    direction "model better".

    Parameters
    ----------
    cv, baseline_cv : CVResult
        The model and the dummy baseline, cross-validated on identical folds.
    metric : str, optional
        Metric to compare; defaults to ``cv.metric``.
    confidence_level : float, default: 0.95
        Level of the two-sided interval of the difference.

    Returns
    -------
    BaselineComparison

    Raises
    ------
    ValueError
        If the folds or the target differ, or the metric is missing.

    Notes
    -----
    For R2 this is the right notion of chance: a useless model (one that
    predicts the training mean) has a *negative* expected cross-validated R2,
    because the training mean differs from the test-fold mean. Testing R2
    against 0 would therefore be biased against finding signal; testing the
    paired difference with the dummy is not.
    """
    if metric is None:
        metric = cv.metric
    if metric not in cv.scores:
        raise ValueError(f"`metric` {metric!r} is not among the scores of `cv`.")
    if metric not in baseline_cv.scores:
        raise ValueError(f"`metric` {metric!r} is not among the scores of `baseline_cv`.")
    if metric not in GREATER_IS_BETTER:
        raise ValueError(f"`metric` {metric!r} has no known direction (GREATER_IS_BETTER).")
    _check_same_folds(cv, baseline_cv)
    model = np.asarray(cv.scores[metric], dtype=np.float64)
    base = np.asarray(baseline_cv.scores[metric], dtype=np.float64)
    if model.shape != base.shape:
        raise ValueError("`baseline_cv` scores do not have the shape of the `cv` scores.")
    diffs = model - base
    greater = GREATER_IS_BETTER[metric]
    test = corrected_t_test(
        diffs,
        n_train=cv.n_train,
        n_test=cv.n_test,
        alternative="greater" if greater else "less",
    )
    ci = corrected_t_interval(
        diffs, n_train=cv.n_train, n_test=cv.n_test, confidence_level=confidence_level
    )
    return BaselineComparison(
        metric=metric,
        estimate=float(model.mean()),
        baseline=float(base.mean()),
        diff=float(diffs.mean()),
        ci_low=ci.low,
        ci_high=ci.high,
        statistic=test.statistic,
        pvalue=test.pvalue,
        se=test.se,
        df=test.df,
        greater_is_better=greater,
        diffs=diffs,
    )


# --------------------------------------------------------------------------
# DeLong
# --------------------------------------------------------------------------


def _check_binary_scores(y, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or score.shape != y.shape:
        raise ValueError("`y` and `score` must be 1-D arrays of the same length.")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("`y` must contain 0/1 labels.")
    if not np.all(np.isfinite(score)):
        raise ValueError("`score` must be finite.")
    return y.astype(np.int64), score


def delong_auc(y, score) -> tuple[float, float]:
    """ROC-AUC and its DeLong variance, in O(n log n).

    Parameters
    ----------
    y : array_like of shape (n_samples,)
        0/1 labels; at least two of each class.
    score : array_like of shape (n_samples,)
        Scores, higher meaning class 1 (ties count one half).

    Returns
    -------
    auc : float
    variance : float
        ``S10 / n1 + S01 / n0`` where ``S10`` and ``S01`` are the sample
        variances (``ddof=1``) of the placement values (structural
        components) ``V10`` of the positives and ``V01`` of the negatives.

    Notes
    -----
    ``V10_i`` is the fraction of negatives scored below positive ``i`` and
    ``V01_j`` the fraction of positives scored above negative ``j`` (ties one
    half); both average to the AUC (the Mann-Whitney U statistic divided by
    ``n1 n0``). They are obtained from mid-ranks in the pooled sample and
    within each class.

    References
    ----------
    .. [1] E. R. DeLong, D. M. DeLong and D. L. Clarke-Pearson, Biometrics
       44(3):837-845, 1988.
    """
    y, score = _check_binary_scores(y, score)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 < 2 or n0 < 2:
        raise ValueError(
            "`y` must contain at least two positives and two negatives for the DeLong "
            f"variance; got {n1} and {n0}."
        )
    v10, v01 = _placement_values(score, y)
    auc = float(v10.mean())
    variance = float(np.var(v10, ddof=1) / n1 + np.var(v01, ddof=1) / n0)
    return auc, variance


@dataclass(frozen=True)
class DeLongCVResult:
    """DeLong test of the cross-validated AUC against 0.5.

    Attributes
    ----------
    auc : float
        Mean fold AUC over all folds and repeats.
    variance, se : float
        Its variance (see :func:`delong_cv`) and standard error.
    statistic : float
        ``z = (auc - 0.5) / se``.
    pvalue : float
        One-sided p-value for ``AUC > 0.5``.
    pvalue_two_sided : float
    fold_auc, fold_variance : ndarray of shape (n_repeats, n_splits)
        Per-fold AUC and DeLong variance.
    repeat_auc, repeat_variance : ndarray of shape (n_repeats,)
        Per-repeat mean fold AUC and its variance ``sum_k var_k / K**2``.
    """

    auc: float
    variance: float
    se: float
    statistic: float
    pvalue: float
    pvalue_two_sided: float
    fold_auc: np.ndarray = field(repr=False)
    fold_variance: np.ndarray = field(repr=False)
    repeat_auc: np.ndarray = field(repr=False)
    repeat_variance: np.ndarray = field(repr=False)


def delong_cv(y, oof, folds) -> DeLongCVResult:
    """Combined DeLong test of the cross-validated AUC against chance.

    Parameters
    ----------
    y : array_like of shape (n_samples,)
        0/1 labels.
    oof : array_like of shape (n_repeats, n_samples)
        Out-of-fold scores (probabilities of class 1).
    folds : array_like of int of shape (n_repeats, n_samples)
        Test fold of every row in every repeat.

    Returns
    -------
    DeLongCVResult

    Raises
    ------
    ValueError
        If a test fold has fewer than two rows of either class.

    Notes
    -----
    Within a repeat the test folds are disjoint, and the mean fold AUC is given
    the variance ``sum_k var_k / K**2``, as if the fold AUCs were independent.
    Repeats score the same rows and are strongly dependent; their mean AUC is
    given the *mean* of the per-repeat variances, an upper bound for any
    correlation between repeats
    (``Var(mean_r A_r) <= (mean_r sd_r)**2 <= mean_r Var(A_r)``).

    Like every DeLong test it holds the predictions fixed, and under
    cross-fitting that is not innocent: fold ``k``'s model was trained on the
    other folds' test rows, so the fold AUCs are not independent even given
    the data, and the variance is too small. Measured by
    :mod:`study.calibration` (null tables of 500 rows, one repeat of 5 folds,
    200 tables each), the test rejects in 0.140 and 0.165 of null tables at
    alpha = 0.05: it is anti-conservative, a cross-check only. The
    permutation test is the study's test of AUC against chance.

    References
    ----------
    .. [1] E. R. DeLong, D. M. DeLong and D. L. Clarke-Pearson, Biometrics
       44(3):837-845, 1988.
    """
    y, _ = _check_binary_scores(y, np.zeros(np.shape(y)))
    oof = np.asarray(oof, dtype=np.float64)
    folds = np.asarray(folds)
    if oof.ndim == 1:
        oof = oof[np.newaxis, :]
    if folds.ndim == 1:
        folds = folds[np.newaxis, :]
    if oof.ndim != 2 or oof.shape[1] != y.size:
        raise ValueError("`oof` must have shape (n_repeats, n_samples).")
    if folds.shape != oof.shape:
        raise ValueError("`folds` must have the shape of `oof`.")
    n_repeats = oof.shape[0]
    fold_auc, fold_var = [], []
    for r in range(n_repeats):
        aucs, variances = [], []
        for k in np.unique(folds[r]):
            rows = folds[r] == k
            try:
                a, v = delong_auc(y[rows], oof[r, rows])
            except ValueError as exc:
                raise ValueError(f"`folds`: test fold {k} of repeat {r}: {exc}") from None
            aucs.append(a)
            variances.append(v)
        fold_auc.append(aucs)
        fold_var.append(variances)
    n_splits = {len(a) for a in fold_auc}
    if len(n_splits) != 1:
        raise ValueError("`folds` must define the same number of folds in every repeat.")
    fold_auc = np.array(fold_auc)
    fold_var = np.array(fold_var)
    k = fold_auc.shape[1]
    repeat_auc = fold_auc.mean(axis=1)
    repeat_var = fold_var.sum(axis=1) / k**2
    auc = float(repeat_auc.mean())
    variance = float(repeat_var.mean())
    se = math.sqrt(variance)
    if se > 0:
        z = (auc - 0.5) / se
    else:  # e.g. constant scores: AUC 0.5 with zero variance in every fold
        z = 0.0 if auc == 0.5 else math.copysign(math.inf, auc - 0.5)
    return DeLongCVResult(
        auc=auc,
        variance=variance,
        se=se,
        statistic=float(z),
        # the normal tail underflows to 0 beyond z ~ 38; a p-value is never reported as 0
        pvalue=max(float(special.ndtr(-z)), _TINY),
        pvalue_two_sided=max(float(min(1.0, 2.0 * special.ndtr(-abs(z)))), _TINY),
        fold_auc=fold_auc,
        fold_variance=fold_var,
        repeat_auc=repeat_auc,
        repeat_variance=repeat_var,
    )


# --------------------------------------------------------------------------
# Equivalence: two one-sided tests
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TOSTResult:
    """Two one-sided tests (TOST) of equivalence.

    Attributes
    ----------
    pvalue : float
        ``max(p_low, p_high)``; equivalence is declared at level ``alpha``
        when ``pvalue < alpha``, i.e. when the ``1 - 2 alpha`` t interval lies
        inside ``(low, high)``.
    p_low, p_high : float
        p-values of ``H0: theta <= low`` and ``H0: theta >= high`` (0 for an
        infinite bound).
    statistic_low, statistic_high : float
        ``(estimate - low) / se`` and ``(estimate - high) / se``.
    estimate, se : float
    df : float
    low, high : float
        Equivalence bounds.
    """

    pvalue: float
    p_low: float
    p_high: float
    statistic_low: float
    statistic_high: float
    estimate: float
    se: float
    df: float
    low: float
    high: float


def _one_sided(estimate: float, bound: float, se: float, df: float, upper: bool):
    """t statistic and p-value of H0: theta <= bound (upper=False) or >= bound."""
    if math.isinf(bound):
        return (math.inf if not upper else -math.inf), 0.0
    d = estimate - bound
    if se > 0:
        t = d / se
    elif d == 0:
        return 0.0, 1.0  # on the boundary, which belongs to the null
    else:
        t = math.copysign(math.inf, d)
    p = stats.t.cdf(t, df) if upper else stats.t.sf(t, df)
    return float(t), float(p)


def tost(estimate: float, se: float, df: float, *, low: float, high: float) -> TOSTResult:
    """Two one-sided t tests of ``low < theta < high`` (Lakens 2017).

    Parameters
    ----------
    estimate : float
        Point estimate of ``theta``.
    se : float
        Its standard error (non-negative).
    df : float
        Degrees of freedom of the t reference distribution (``np.inf`` for a
        normal reference).
    low, high : float
        Equivalence bounds, ``low < high``; ``low = -np.inf`` gives a one-sided
        non-superiority test ``H0: theta >= high``.

    Returns
    -------
    TOSTResult

    References
    ----------
    .. [1] D. Lakens, "Equivalence tests: a practical primer for t tests,
       correlations, and meta-analyses", Social Psychological and Personality
       Science 8(4):355-362, 2017.
    """
    for name, value in (("estimate", estimate), ("se", se)):
        if not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"`{name}` must be a finite number.")
    if se < 0:
        raise ValueError("`se` must be non-negative.")
    if not isinstance(df, Real) or not df > 0:
        raise ValueError("`df` must be a positive number (np.inf allowed).")
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, Real) or math.isnan(value):
            raise ValueError(f"`{name}` must be a number.")
    if not low < high:
        raise ValueError("`low` must be smaller than `high`.")
    t_low, p_low = _one_sided(float(estimate), float(low), float(se), float(df), upper=False)
    t_high, p_high = _one_sided(float(estimate), float(high), float(se), float(df), upper=True)
    return TOSTResult(
        pvalue=max(p_low, p_high),
        p_low=p_low,
        p_high=p_high,
        statistic_low=t_low,
        statistic_high=t_high,
        estimate=float(estimate),
        se=float(se),
        df=float(df),
        low=float(low),
        high=float(high),
    )


def auc_equivalence(cv: CVResult, *, margin: float = AUC_EQUIVALENCE_MARGIN) -> TOSTResult:
    """TOST of ``|AUC - 0.5| < margin`` for the cross-validated AUC.

    The estimate is the mean fold AUC; its standard error is the
    Nadeau-Bengio corrected one of the fold AUCs, with ``J - 1`` degrees of
    freedom. The fold-level error is used (rather than DeLong's or the
    bootstrap's, which hold the predictions fixed) because "practically no
    signal" is a claim about the learning procedure, so it must include the
    variability due to refitting the model on other training sets.
    """
    margin = _check_positive(margin, "margin")
    if margin >= 0.5:
        raise ValueError("`margin` must be smaller than 0.5.")
    if "roc_auc" not in cv.scores:
        raise ValueError("`cv` has no 'roc_auc' scores.")
    mean, se, df = _corrected_moments(cv.scores["roc_auc"], cv.n_train, cv.n_test, True)
    return tost(mean, se, df, low=0.5 - margin, high=0.5 + margin)


def r2_non_superiority(
    cv: CVResult, baseline_cv: CVResult, *, margin: float = R2_EQUIVALENCE_MARGIN
) -> TOSTResult:
    """One-sided test that the R2 gain over the baseline is below `margin`.

    ``H0: Delta >= margin`` against ``H1: Delta < margin`` with ``Delta`` the
    mean paired fold difference ``R2(model) - R2(dummy)``, the Nadeau-Bengio
    corrected standard error and ``J - 1`` degrees of freedom (a TOST whose
    lower bound is ``-inf``: a model worse than the dummy is "practically
    null" too).
    """
    margin = _check_positive(margin, "margin")
    comp = compare_to_baseline(cv, baseline_cv, metric="r2")
    return tost(comp.diff, comp.se, comp.df, low=-math.inf, high=margin)


# --------------------------------------------------------------------------
# Multiplicity and verdict
# --------------------------------------------------------------------------


def adjust_pvalues(pvalues, *, method: str = "holm") -> np.ndarray:
    """Holm or Benjamini-Hochberg adjusted p-values, NaN entries left out.

    Parameters
    ----------
    pvalues : array_like of shape (m,)
        The family of p-values; NaN marks entries outside the family.
    method : {"holm", "fdr_bh"}, default: "holm"
        Holm's step-down family-wise procedure [1]_ or the Benjamini-Hochberg
        false discovery rate procedure [2]_ (q-values), via
        :func:`statsmodels.stats.multitest.multipletests`.

    Returns
    -------
    ndarray of shape (m,)
        Adjusted p-values, NaN where the input was NaN.

    References
    ----------
    .. [1] S. Holm, Scandinavian Journal of Statistics 6(2):65-70, 1979.
    .. [2] Y. Benjamini and Y. Hochberg, JRSS B 57(1):289-300, 1995.
    """
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"`method` must be 'holm' or 'fdr_bh'; got {method!r}.")
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("`pvalues` must be 1-D.")
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("`pvalues` must lie in [0, 1].")
    out = np.full(p.shape, np.nan)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def verdict(p_holm: float, p_tost: float, *, alpha: float = 0.05) -> str:
    """Verdict of one headline row from its numbers alone.

    Returns ``"signal"`` if the Holm-adjusted permutation p-value is below
    `alpha`; otherwise ``"practically null"`` if the equivalence (TOST)
    p-value is below `alpha`; otherwise ``"inconclusive"``. NaN p-values
    never pass a threshold.
    """
    alpha = _check_unit_interval(alpha, "alpha")
    if p_holm is not None and p_holm < alpha:
        return "signal"
    if p_tost is not None and p_tost < alpha:
        return "practically null"
    return "inconclusive"


# --------------------------------------------------------------------------
# Headline table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One (dataset, task, model) entry of the headline table.

    Attributes
    ----------
    dataset, task, model : str
        Labels of the row group.
    cv : CVResult
        Repeated cross-validation of the model.
    baseline_cv : CVResult or None
        The dummy baseline on identical folds. Required unless the cell is
        the baseline itself.
    perm : PermutationResult or None
        Permutation test of the primary metric (None if not run).
    bootstrap : mapping of str to BootstrapResult
        Bootstrap intervals per metric (missing metrics get NaN bounds).
    is_baseline : bool
        Marks the dummy baseline; also inferred when ``baseline_cv is cv``.
    """

    dataset: str
    task: str
    model: str
    cv: CVResult
    baseline_cv: CVResult | None = None
    perm: PermutationResult | None = None
    bootstrap: Mapping[str, BootstrapResult] = field(default_factory=dict)
    is_baseline: bool = False


_CELL_FIELDS = {f.name for f in fields(Cell)}


def _as_cell(obj, index: int) -> Cell:
    if isinstance(obj, Cell):
        cell = obj
    elif isinstance(obj, Mapping):
        unknown = set(obj) - _CELL_FIELDS
        if unknown:
            raise ValueError(f"`cells[{index}]` has unknown keys {sorted(unknown)}.")
        missing = {"dataset", "task", "model", "cv"} - set(obj)
        if missing:
            raise ValueError(f"`cells[{index}]` lacks keys {sorted(missing)}.")
        cell = Cell(**obj)
    else:
        raise ValueError(f"`cells[{index}]` must be a Cell or a mapping.")
    if not isinstance(cell.cv, CVResult):
        raise ValueError(f"`cells[{index}].cv` must be a CVResult.")
    if cell.baseline_cv is cell.cv and not cell.is_baseline:
        cell = replace(cell, is_baseline=True)
    if not cell.is_baseline and not isinstance(cell.baseline_cv, CVResult):
        raise ValueError(
            f"`cells[{index}].baseline_cv` must be the CVResult of the dummy baseline "
            "(or mark the cell with is_baseline=True)."
        )
    if cell.perm is not None and not isinstance(cell.perm, PermutationResult):
        raise ValueError(f"`cells[{index}].perm` must be a PermutationResult or None.")
    for m, b in cell.bootstrap.items():
        if m not in cell.cv.scores:
            raise ValueError(f"`cells[{index}].bootstrap` has metric {m!r} not scored in cv.")
        if not isinstance(b, BootstrapResult):
            raise ValueError(f"`cells[{index}].bootstrap[{m!r}]` must be a BootstrapResult.")
    return cell


def _metric_order(cv: CVResult) -> list[str]:
    rest = [m for m in _METRIC_ORDER if m in cv.scores and m != cv.metric]
    rest += [m for m in cv.scores if m not in _METRIC_ORDER and m != cv.metric]
    return [cv.metric, *rest]


def _check_consistent(value: float, expected: float, what: str) -> None:
    if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-6):
        raise ValueError(
            f"{what} = {value!r} does not match the mean fold score {expected!r} of `cv`; "
            "was it computed on another cell?"
        )


def build_pvalue_table(
    cells: Sequence[Cell | Mapping],
    *,
    alpha: float = 0.05,
    auc_margin: float = AUC_EQUIVALENCE_MARGIN,
    r2_margin: float = R2_EQUIVALENCE_MARGIN,
) -> pd.DataFrame:
    """The headline table: one row per (dataset, task, model, metric).

    Parameters
    ----------
    cells : sequence of Cell or mapping
        Mappings need the keys of :class:`Cell` (``dataset, task, model, cv,
        baseline_cv, perm, bootstrap``, optionally ``is_baseline``).
    alpha : float, default: 0.05
        Level of the verdict.
    auc_margin : float, default: AUC_EQUIVALENCE_MARGIN
        Equivalence margin of the AUC around 0.5.
    r2_margin : float, default: R2_EQUIVALENCE_MARGIN
        Largest negligible R2 gain over the dummy baseline.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`, in that order:

        * ``statistic``: mean fold score; ``ci_low``/``ci_high``: the bootstrap
          interval (predictions held fixed) when supplied, else NaN;
        * ``baseline``, ``diff_vs_baseline``, ``p_vs_baseline``: the dummy's
          mean fold score, the difference and the one-sided Nadeau-Bengio
          corrected p-value for "model better" (:func:`compare_to_baseline`);
        * ``p_perm``, ``p_perm_two_sided``, ``n_permutations``: from the
          permutation test; ``p_holm`` and ``q_bh``: Holm and
          Benjamini-Hochberg adjustments of ``p_perm`` over the family of
          primary-metric rows of all non-baseline cells with a permutation
          test; ``p_delong``: one-sided DeLong p-value for AUC > 0.5
          (:func:`delong_cv`, ``roc_auc`` rows only); ``p_tost``: equivalence
          p-value (:func:`auc_equivalence` for ``roc_auc``,
          :func:`r2_non_superiority` for ``r2``);
        * ``verdict``: :func:`verdict` of ``p_holm`` and ``p_tost``.

        Only primary-metric rows (``cv.metric``) carry the test columns;
        secondary-metric rows carry the estimate, interval and baseline
        comparison, NaN test columns and an empty verdict ``""``. Rows of the
        dummy baseline itself carry the estimate, interval and raw permutation
        p-value (a model that ignores its input cannot beat chance, so the
        p-value is not part of the family), NaN elsewhere and the verdict
        ``"baseline"``.

        Rows are ordered by dataset, task and model in order of first
        appearance in `cells`, then by metric with the primary metric first
        (then ``roc_auc, accuracy, brier, log_loss, r2, rmse, mae``).
    """
    alpha = _check_unit_interval(alpha, "alpha")
    auc_margin = _check_positive(auc_margin, "auc_margin")
    if auc_margin >= 0.5:
        raise ValueError("`auc_margin` must be smaller than 0.5.")
    r2_margin = _check_positive(r2_margin, "r2_margin")
    if isinstance(cells, (str, bytes, Mapping)) or not isinstance(cells, Sequence):
        raise ValueError("`cells` must be a sequence of Cell objects or mappings.")
    cells = [_as_cell(c, i) for i, c in enumerate(cells)]

    seen = set()
    for c in cells:
        key = (c.dataset, c.task, c.model)
        if key in seen:
            raise ValueError(f"`cells` contains {key} twice.")
        seen.add(key)
    rank: dict[str, dict] = {"dataset": {}, "task": {}, "model": {}}
    for c in cells:
        for name in rank:
            rank[name].setdefault(getattr(c, name), len(rank[name]))
    order = sorted(
        range(len(cells)),
        key=lambda i: tuple(rank[n][getattr(cells[i], n)] for n in ("dataset", "task", "model")),
    )

    rows: list[dict] = []
    family: list[int] = []  # row indices of the multiplicity family
    tested: list[int] = []  # primary-metric rows of non-baseline cells
    for i in order:
        c = cells[i]
        cv = c.cv
        for metric in _metric_order(cv):
            primary = metric == cv.metric
            row = dict.fromkeys(TABLE_COLUMNS, np.nan)
            row.update(dataset=c.dataset, task=c.task, model=c.model, metric=metric)
            row["statistic"] = float(np.mean(cv.scores[metric]))
            boot = c.bootstrap.get(metric)
            if boot is not None:
                if primary:
                    _check_consistent(
                        boot.statistic,
                        row["statistic"],
                        f"bootstrap[{metric!r}].statistic of {c.model!r}",
                    )
                row["ci_low"], row["ci_high"] = boot.ci_low, boot.ci_high
            if primary and c.perm is not None:
                _check_consistent(
                    c.perm.statistic, row["statistic"], f"perm.statistic of {c.model!r}"
                )
                row["p_perm"] = c.perm.pvalue
                row["p_perm_two_sided"] = c.perm.pvalue_two_sided
                row["n_permutations"] = float(c.perm.n_permutations)
            if c.is_baseline:
                row["verdict"] = "baseline" if primary else ""
                rows.append(row)
                continue
            comp = compare_to_baseline(cv, c.baseline_cv, metric=metric)
            row["baseline"] = comp.baseline
            row["diff_vs_baseline"] = comp.diff
            row["p_vs_baseline"] = comp.pvalue
            row["verdict"] = ""
            if primary:
                if metric == "roc_auc":
                    row["p_delong"] = delong_cv(cv.y, cv.oof, cv.folds).pvalue
                    row["p_tost"] = auc_equivalence(cv, margin=auc_margin).pvalue
                elif metric == "r2":
                    row["p_tost"] = r2_non_superiority(cv, c.baseline_cv, margin=r2_margin).pvalue
                tested.append(len(rows))
                if not math.isnan(row["p_perm"]):
                    family.append(len(rows))
            rows.append(row)

    p_family = np.array([rows[j]["p_perm"] for j in family])
    if family:
        holm = adjust_pvalues(p_family, method="holm")
        bh = adjust_pvalues(p_family, method="fdr_bh")
        for j, ph, q in zip(family, holm, bh, strict=True):
            rows[j]["p_holm"] = float(ph)
            rows[j]["q_bh"] = float(q)
    for j in tested:
        rows[j]["verdict"] = verdict(rows[j]["p_holm"], rows[j]["p_tost"], alpha=alpha)

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    float_cols = [
        c for c in TABLE_COLUMNS if c not in ("dataset", "task", "model", "metric", "verdict")
    ]
    table[float_cols] = table[float_cols].astype(np.float64)
    return table
