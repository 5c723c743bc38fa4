"""Frozen result records shared by the compute and render stages.

Every record keeps its raw distributions (fold scores, out-of-fold predictions,
null distributions) so that tables and figures can be rendered, restyled and
re-tabulated from saved results without refitting a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CVResult", "PermutationResult"]


@dataclass(frozen=True)
class CVResult:
    """Outcome of repeated K-fold cross-validation of one model on one task.

    Attributes
    ----------
    task : {"regression", "classification"}
        The task framing.
    metric : {"r2", "roc_auc"}
        The headline metric; ``scores[metric]`` holds its per-fold values.
    scores : dict of str to ndarray of shape (n_repeats, n_splits)
        Per-fold scores of the headline metric and of the secondary metrics
        (classification: ``roc_auc, accuracy, brier, log_loss``; regression:
        ``r2, rmse, mae``). Fold scores are computed on each test fold and
        never pooled across folds.
    y : ndarray of shape (n_samples,)
        The target the folds were scored against (class labels 0/1 for
        classification).
    folds : ndarray of int of shape (n_repeats, n_samples)
        ``folds[r, i]`` is the test fold of row ``i`` in repeat ``r``.
    oof : ndarray of float of shape (n_repeats, n_samples)
        Out-of-fold predictions per repeat: predicted values for regression,
        predicted probabilities of class 1 for classification.
    fit_times : ndarray of shape (n_repeats, n_splits)
        Seconds spent fitting each fold's pipeline.
    n_train, n_test : ndarray of int of shape (n_repeats, n_splits)
        Training and test fold sizes.
    """

    task: str
    metric: str
    scores: dict[str, np.ndarray]
    y: np.ndarray
    folds: np.ndarray
    oof: np.ndarray
    fit_times: np.ndarray
    n_train: np.ndarray
    n_test: np.ndarray

    @property
    def n_repeats(self) -> int:
        return int(self.folds.shape[0])

    @property
    def n_splits(self) -> int:
        return int(self.folds.max()) + 1

    @property
    def statistic(self) -> float:
        """Mean of the headline metric over all ``n_repeats * n_splits`` folds."""
        return float(np.mean(self.scores[self.metric]))


@dataclass(frozen=True)
class PermutationResult:
    """Outcome of a permutation test of a cross-validated statistic.

    Attributes
    ----------
    statistic : float
        The observed statistic (mean fold score of the headline metric).
    pvalue : float
        One-sided p-value for "better than chance", never zero.
    pvalue_two_sided : float
        Two-sided p-value (distance from the centre of the null), never zero.
    null_distribution : ndarray of shape (n_permutations,)
        The statistic recomputed on each permuted target.
    n_permutations : int
        Permutations actually evaluated (fewer than the budget when
        sequential stopping ended the test early).
    stopped_early : bool
        Whether sequential stopping (Besag & Clifford 1991) ended the test.
    method : str
        Which path computed the null: ``"generic"`` or ``"batched"``.
    """

    statistic: float
    pvalue: float
    pvalue_two_sided: float
    null_distribution: np.ndarray
    n_permutations: int
    stopped_early: bool
    method: str = "generic"
    extra: dict = field(default_factory=dict)
