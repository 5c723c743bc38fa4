"""Validate the validator: type-I error, power and coverage of the study's procedure.

A study whose conclusion is "nothing here" must show that its tests reject at the stated
rate when nothing is there, that they would have found an effect of a given size if it were
there, and that its intervals cover. :func:`calibrate` measures all three by simulation on
the schema-faithful tables of :mod:`study.simulate`, whose truth is known, with the study's
own pipelines (:func:`study.models.build_model`), folds, permutation engine and intervals.
``python -m study.calibrate`` runs it and writes the tables and figures.

Type-I error
------------
Null tables (``effect=0``: the target independent of every column) of ``n`` rows. In each
replicate every tested cell runs its test at level ``alpha`` on its own folds:

``permutation (stratified)``
    The study's scheme: stratified 5-fold CV (regression stratified on target bins), the
    folds follow the permuted labels, sequential stopping after ``h`` exceedances (Besag &
    Clifford 1991) within ``B`` permutations (Ojala & Garriga 2010, test 1; Phipson & Smyth
    2010). Ridge (regression), logistic regression (classification) and, in fewer
    replicates and on one dataset's classification task only (``type1.forest``), a random
    forest.
``permutation (unstratified)``
    Unstratified folds with ``y`` permuted, the path on which the batched ridge engine and
    the mean predictor (the dummy regressor) run. The dummy under the stratified scheme is
    left out: it ignores ``X``, so every permuted statistic equals the observed one and
    ``p = 1`` identically.
``DeLong``
    The fold-combined DeLong (1988) test of the logistic model's CV AUC against 0.5.
``corrected t vs baseline``
    The Nadeau & Bengio (2003) corrected resampled t of the logistic model's fold AUCs
    against the dummy's (which are 0.5 exactly). For R2 this test is left out: a model that
    fits noise is *worse* than the mean predictor, so its null is composite and the test is
    conservative by design, not at level ``alpha``.

Each cell reports the rejection rate with a Clopper-Pearson 95% interval and a
Kolmogorov-Smirnov test of the uniformity of its p-values. Permutation p-values are
discrete; they are made continuous by the randomisation ``p~ = a' + U (p - a')``, with
``a'`` the next smaller attainable p-value and ``U`` uniform (:func:`randomized_pvalues`),
which is exactly uniform when ``P(p <= a) = a`` at every attainable ``a`` (the claim under
test), so the KS test is exact too.

Power and the minimum detectable effect
---------------------------------------
Tables with the real files' row counts (10,000 and 5,000) and planted effects of population
R2 ``delta`` on a grid (:func:`study.simulate.simulate`, default effect kinds: a graded shift
of ``Popularity_Score`` by ``Art_Style``; ``Engagement_Score`` rising with ``Likes / Views``).
The ridge model is scored by CV R2, the logistic model by CV AUC of the original's class
labels (whose best achievable AUC, :func:`study.simulate.population_auc`, is reported next to
``delta``). Tests:

``permutation (simulated null)``
    Rejects when ``T`` exceeds the ``ceil((1 - alpha)(N0 + 1))``-th smallest of the ``N0``
    statistics of the null replicates of the same size (a Monte Carlo test, exact for
    ``T`` exchangeable with them). Refitting ``B`` permutations in every replicate at
    10,000 rows would cost hours; this critical value stands in for the permutation
    test's own. The two agree to first order: the simulator keeps the marginal of every
    column fixed whatever ``delta``, so permuted tables have the law of null tables, and
    the permutation critical value is a consistent estimate of the simulated one. The
    test has no null row in the power table: its size is ``alpha`` by construction. All
    planted replicates of a cell share the one critical value, so their rejections are
    not independent and the Clopper-Pearson intervals of this test's power are somewhat
    too narrow.
``corrected t vs baseline`` and ``DeLong``
    As above, on the same replicates.

The minimum detectable effect is where the power curve crosses 80%, interpolated linearly
in ``log(delta)`` between the grid points that bracket it. Power is at the *unadjusted*
``alpha``; the study's verdicts use Holm over its 12 tests, where the smallest p must be
below ``alpha / 12``, so its power at a given effect is lower than this (a critical value
at ``alpha / 12`` needs at least ``12 / alpha - 1 = 239`` null tables; the quick preset
has 80, and the tables report power at ``alpha`` only). The CV design of these
replicates is one repeat of 5 folds, while the study's linear models average 10
repeats, which lowers the variance of ``T``. The DeLong curve is not comparable with the
others: its size is above ``alpha`` (see type-I error), which inflates its power.

Coverage
--------
``bootstrap BCa``
    :func:`study.intervals.bootstrap_cv` (Efron 1987), predictions held fixed. Its estimand
    is the performance of the given predictions on new rows. For the *oracle* predictor
    ``E[y | X]`` (:func:`study.simulate.conditional_mean`) under a planted effect that is
    the population R2 and AUC, known exactly; for the fitted logistic model under H0 it
    is an AUC of 0.5 exactly (no scorer can rank independent labels).
``Nadeau-Bengio t``
    :func:`study.inference.corrected_t_interval` of the logistic model's fold AUCs under
    H0, whose estimand (the expected CV AUC of the learning procedure) is 0.5 exactly.

Randomness: every draw of replicate ``r`` of a section has its own stream,
``seed_for(seed, "calibration", section, dataset, repr(delta), str(r), what)``
(:func:`study.parallel.seed_for`; ``what`` names the draw: data, folds, model, ...),
so results are identical for any ``n_jobs`` and back end, and a replicate's numbers do not
depend on how many replicates run.

References
----------
Besag, J. and Clifford, P. (1991). Sequential Monte Carlo p-values. *Biometrika* 78(2),
301-304.

Clopper, C. J. and Pearson, E. S. (1934). The use of confidence or fiducial limits
illustrated in the case of the binomial. *Biometrika* 26(4), 404-413.

DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988). Comparing the areas under two
or more correlated receiver operating characteristic curves. *Biometrics* 44(3), 837-845.

Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171-185.

Nadeau, C. and Bengio, Y. (2003). Inference for the generalization error. *Machine
Learning* 52(3), 239-281.

Ojala, M. and Garriga, G. C. (2010). Permutation tests for studying classifier performance.
*JMLR* 11, 1833-1863.

Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero. *Statistical
Applications in Genetics and Molecular Biology* 9(1), 39.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import delayed
from scipy import stats

from study.datasets import get_spec, task_target
from study.inference import compare_to_baseline, corrected_t_interval, delong_cv
from study.intervals import bootstrap_cv
from study.models import build_model
from study.parallel import executor, seed_for
from study.permutation import permutation_test
from study.resampling import cross_validate, repeated_folds
from study.simulate import (
    DEFAULT_EFFECT_KIND,
    conditional_mean,
    max_effect,
    population_auc,
    population_r2,
    simulate,
)

__all__ = [
    "CALIBRATION_COLUMNS",
    "COVERAGE_COLUMNS",
    "MDE_COLUMNS",
    "POWER_COLUMNS",
    "PRESETS",
    "CalibrationResult",
    "attainable_pvalues",
    "binomial_interval",
    "calibrate",
    "coverage_table",
    "holds_alpha",
    "mde_table",
    "null_cells",
    "power_table",
    "randomized_pvalues",
    "type1_table",
    "uniform_pvalues",
]

#: Columns of ``tables/calibration.csv`` (the issue's names first).
CALIBRATION_COLUMNS = ["test", "model", "n", "alpha", "n_replicates", "type1_error", "ci_low",
                       "ci_high", "ks_p", "dataset", "task", "n_permutations", "sequential"]
#: Columns of ``tables/calibration_power.csv``.
POWER_COLUMNS = ["dataset", "task", "test", "model", "n", "effect_r2", "effect_auc", "alpha",
                 "n_replicates", "power", "ci_low", "ci_high"]
#: Columns of ``tables/calibration_mde.csv``.
MDE_COLUMNS = ["dataset", "task", "test", "model", "n", "power_target", "mde_r2", "mde_auc",
               "note"]
#: Columns of ``tables/calibration_coverage.csv``.
COVERAGE_COLUMNS = ["dataset", "task", "interval", "model", "metric", "n", "effect_r2",
                    "truth", "confidence_level", "n_replicates", "coverage", "ci_low",
                    "ci_high", "mean_width"]

_SEED = 20261204

#: The designs, as plain data. ``n = None`` means the real file's row count.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "seed": _SEED, "alpha": 0.05, "n_splits": 5, "confidence_level": 0.95,
        "type1": {"n": 500, "n_replicates": 200, "n_permutations": 19, "sequential": 1,
                  "forest": {"dataset": "popularity", "n_replicates": 100,
                             "n_estimators": 20}},
        "power": {"n": None, "effects": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
                  "n_null": 80, "n_replicates": 25},
        "bootstrap": {"n_resamples": 999},
    },
    "full": {
        "seed": _SEED, "alpha": 0.05, "n_splits": 5, "confidence_level": 0.95,
        "type1": {"n": 1000, "n_replicates": 1000, "n_permutations": 99, "sequential": 5,
                  "forest": {"dataset": "popularity", "n_replicates": 300,
                             "n_estimators": 100}},
        "power": {"n": None, "effects": [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
                  "n_null": 400, "n_replicates": 200},
        "bootstrap": {"n_resamples": 1999},
    },
    # the run inside python -m study.run_all: the study's scheme on the cheaper table
    "summary": {
        "seed": _SEED, "alpha": 0.05, "n_splits": 5, "confidence_level": 0.95,
        "datasets": ["popularity"],
        "type1": {"n": 200, "n_replicates": 60, "n_permutations": 19, "sequential": 1,
                  "forest": None, "unstratified": False},
        "power": None,
        "bootstrap": {"n_resamples": 499},
    },
}

_DATASETS = ("trends", "popularity")
_MODEL = {"regression": "ridge", "classification": "logistic"}
_METRIC = {"regression": "r2", "classification": "roc_auc"}
_STRATIFIED, _UNSTRATIFIED = "permutation (stratified)", "permutation (unstratified)"
_SIMULATED = "permutation (simulated null)"
_DELONG, _T_BASELINE = "DeLong", "corrected t vs baseline"
_BCA, _NB = "bootstrap BCa", "Nadeau-Bengio t"


# ----------------------------------------------------------------------------------------
# Small statistics


def binomial_interval(k: int, n: int, *, confidence_level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n``, ``n >= 1``.
    confidence_level : float, default 0.95

    Returns
    -------
    (low, high) : tuple of float
        Through :meth:`scipy.stats.binomtest(...).proportion_ci(method="exact")
        <scipy.stats._result_classes.BinomTestResult.proportion_ci>` (Clopper & Pearson
        1934); it covers the true proportion with probability at least ``confidence_level``.
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"binomial_interval: need 0 <= k <= n and n >= 1; got k={k}, n={n}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence_level, method="exact")
    return float(ci.low), float(ci.high)


def attainable_pvalues(n_permutations: int, sequential: int | None) -> np.ndarray:
    """Every value the permutation p-value of :func:`study.permutation.permutation_test` takes.

    Parameters
    ----------
    n_permutations : int
        The budget ``B``.
    sequential : int or None
        ``h`` of Besag & Clifford's stopping rule, or ``None`` for a fixed-``B`` test.

    Returns
    -------
    ndarray
        Sorted: ``(1 + b) / (1 + B)`` for ``b = 0..B`` without stopping; with stopping,
        ``h / L`` for ``L = h..B`` and ``(g + 1) / (B + 1)`` for ``g = 0..h-1``.
    """
    b = int(n_permutations)
    if sequential is None:
        return np.arange(1, b + 2) / (b + 1)
    h = int(sequential)
    values = np.concatenate([h / np.arange(h, b + 1), np.arange(1, h + 1) / (b + 1)])
    return np.unique(values[values <= 1.0])


def randomized_pvalues(pvalues, attainable, rng: np.random.Generator) -> np.ndarray:
    """Spread discrete p-values uniformly over the gap below each one.

    ``p~ = a' + U (p - a')`` with ``a'`` the largest attainable value below ``p`` (0 for the
    smallest) and ``U`` uniform on (0, 1). When ``P(p <= a) = a`` at every attainable
    ``a`` (a valid, exact test), ``p~`` is exactly uniform on (0, 1); this is what lets a
    Kolmogorov-Smirnov test judge discrete p-values.

    Raises
    ------
    ValueError
        If a p-value is not one of ``attainable`` (to a relative 1e-9).
    """
    p = np.asarray(pvalues, dtype=float)
    grid = np.asarray(attainable, dtype=float)
    j = np.searchsorted(grid, p * (1 - 1e-9))
    if np.any(j >= grid.size) or not np.allclose(grid[np.minimum(j, grid.size - 1)], p,
                                                 rtol=1e-9, atol=0.0):
        raise ValueError("randomized_pvalues: a p-value is not an attainable value")
    below = np.where(j > 0, grid[np.maximum(j - 1, 0)], 0.0)
    return below + rng.random(p.shape) * (p - below)


def _ks_uniform(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan")
    return float(stats.kstest(values, "uniform").pvalue)


def _monte_carlo_reject(statistic: float, null: np.ndarray, alpha: float) -> bool:
    """``T`` above the ``ceil((1 - alpha)(N0 + 1))``-th smallest null statistic."""
    null = np.sort(np.asarray(null, dtype=float))
    k = math.ceil((1 - alpha) * (null.size + 1))
    return bool(k <= null.size and statistic > null[k - 1])


# ----------------------------------------------------------------------------------------
# Replicates (one simulated table each); every function returns plain records


def _seed(seed: int, section: str, dataset: str, effect: float, r: int, what: str
          ) -> np.random.SeedSequence:
    return seed_for(seed, "calibration", section, dataset, repr(float(effect)), str(r), what,
                    purpose="calibration")


def _intervals(cv, *, seed: np.random.SeedSequence, n_resamples: int,
               confidence_level: float) -> dict[str, float]:
    boot = bootstrap_cv(cv.y, cv.oof, cv.folds, metric=cv.metric, n_resamples=n_resamples,
                        confidence_level=confidence_level, random_state=seed)
    nb = corrected_t_interval(cv.scores[cv.metric], n_train=cv.n_train, n_test=cv.n_test,
                              confidence_level=confidence_level)
    return {"boot_low": boot.ci_low, "boot_high": boot.ci_high, "nb_low": nb.low,
            "nb_high": nb.high}


def _type1_replicate(design: Mapping[str, Any], dataset: str, r: int) -> list[dict]:
    seed, k = design["seed"], design["n_splits"]
    t1 = design["type1"]
    spec = get_spec(dataset)
    frame = simulate(dataset, n=t1["n"], effect=0.0,
                     random_state=_seed(seed, "type1", dataset, 0.0, r, "data"))
    n = len(frame)
    base = {"dataset": dataset, "n": n, "replicate": r}
    # one permutation at a time: with sequential stopping nothing is computed past L
    perm_kw = {"n_permutations": t1["n_permutations"], "sequential": t1["sequential"],
               "chunk_size": 1}
    forest = t1.get("forest")
    rows = []

    def s(what: str) -> np.random.SeedSequence:
        return _seed(seed, "type1", dataset, 0.0, r, what)

    for task in ("regression", "classification"):
        y = task_target(frame, dataset, task)
        folds = repeated_folds(y, task=task, n_splits=k, n_repeats=1,
                               random_state=s(f"folds/{task}"))
        models = [_MODEL[task]]
        if forest and forest["dataset"] == dataset and task == "classification" \
                and r < forest["n_replicates"]:
            models.append("random_forest")
        for model in models:
            trees = forest["n_estimators"] if model == "random_forest" else None
            pipe = build_model(model, spec, task, random_state=s(f"model/{task}/{model}"),
                               n_estimators=trees)
            perm = permutation_test(pipe, frame, y, folds, task=task, **perm_kw,
                                    random_state=s(f"perm/{task}/{model}"))
            rows.append({**base, "task": task, "model": model, "test": _STRATIFIED,
                         "statistic": perm.statistic, "pvalue": perm.pvalue,
                         "evaluated": perm.n_permutations})
        # the analytic tests and the intervals of the linear model, against its baseline
        model = _MODEL[task]
        pipe = build_model(model, spec, task, random_state=s(f"model/{task}/{model}"))
        cv = cross_validate(pipe, frame, y, folds, task=task)
        if task == "classification":
            dummy = cross_validate(build_model("dummy", spec, task, random_state=0), frame, y,
                                   folds, task=task)
            rows.append({**base, "task": task, "model": model, "test": _DELONG,
                         "statistic": cv.statistic,
                         "pvalue": delong_cv(cv.y, cv.oof, cv.folds).pvalue})
            rows.append({**base, "task": task, "model": model, "test": _T_BASELINE,
                         "statistic": cv.statistic,
                         "pvalue": compare_to_baseline(cv, dummy).pvalue})
            rows.append({**base, "task": task, "model": model, "test": "intervals",
                         "statistic": cv.statistic, "truth": 0.5,
                         **_intervals(cv, seed=s("bootstrap"),
                                      n_resamples=design["bootstrap"]["n_resamples"],
                                      confidence_level=design["confidence_level"])})
        elif t1.get("unstratified", True):  # the permute-y scheme: batched ridge, the mean
            plain = repeated_folds(y, task=task, n_splits=k, n_repeats=1, stratify=False,
                                   random_state=s("folds/unstratified"))
            for model in ("ridge", "dummy"):
                pipe = build_model(model, spec, task, random_state=0)
                perm = permutation_test(pipe, frame, y, plain, task=task, **perm_kw,
                                        random_state=s(f"perm/unstratified/{model}"))
                rows.append({**base, "task": task, "model": model, "test": _UNSTRATIFIED,
                             "statistic": perm.statistic, "pvalue": perm.pvalue,
                             "evaluated": perm.n_permutations})
    return rows


def _power_replicate(design: Mapping[str, Any], dataset: str, effect: float, r: int
                     ) -> list[dict]:
    seed, k = design["seed"], design["n_splits"]
    spec = get_spec(dataset)
    frame = simulate(dataset, n=design["power"]["n"], effect=effect,
                     random_state=_seed(seed, "power", dataset, effect, r, "data"))
    oracle = conditional_mean(dataset, frame, effect=effect) if effect > 0 else None
    base = {"dataset": dataset, "n": len(frame), "effect_r2": effect, "replicate": r}
    boot_kw = {"n_resamples": design["bootstrap"]["n_resamples"],
               "confidence_level": design["confidence_level"]}
    rows = []
    for task in ("regression", "classification"):
        y = task_target(frame, dataset, task)
        folds = repeated_folds(y, task=task, n_splits=k, n_repeats=1,
                               random_state=_seed(seed, "power", dataset, effect, r,
                                                  f"folds/{task}"))
        model = _MODEL[task]
        pipe = build_model(model, spec, task,
                           random_state=_seed(seed, "power", dataset, effect, r, "model"))
        cv = cross_validate(pipe, frame, y, folds, task=task)
        dummy = cross_validate(build_model("dummy", spec, task, random_state=0), frame, y,
                               folds, task=task)
        row = {**base, "task": task, "model": model, "statistic": cv.statistic,
               "p_baseline": compare_to_baseline(cv, dummy).pvalue,
               "p_delong": (delong_cv(cv.y, cv.oof, cv.folds).pvalue
                            if task == "classification" else float("nan"))}
        if oracle is not None:  # coverage of the bootstrap interval of E[y|X]'s score
            boot = bootstrap_cv(cv.y, np.broadcast_to(oracle, cv.oof.shape), cv.folds,
                                metric=_METRIC[task], **boot_kw,
                                random_state=_seed(seed, "power", dataset, effect, r,
                                                   f"bootstrap/{task}"))
            row.update(oracle_low=boot.ci_low, oracle_high=boot.ci_high,
                       oracle_statistic=boot.statistic)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------
# Summaries (pure functions of the saved replicate records)


def null_cells(replicates: pd.DataFrame) -> list[tuple[tuple[str, str, str, str],
                                                       pd.DataFrame]]:
    """The type-I cells ``((dataset, task, test, model), rows by replicate)``, in run order."""
    tests = replicates[replicates["test"] != "intervals"]
    return [(key, group.sort_values("replicate"))
            for key, group in tests.groupby(["dataset", "task", "test", "model"], sort=False)]


def uniform_pvalues(group: pd.DataFrame, design: Mapping[str, Any]) -> np.ndarray:
    """A null cell's p-values, randomised within their gaps when they are discrete.

    The randomisation draws from a stream of its own per cell (keyed by its names), so the
    KS p-value and the QQ plot are reproducible and do not depend on the order of rows.
    """
    dataset, task, test, model = (str(group[c].iloc[0])
                                  for c in ("dataset", "task", "test", "model"))
    p = group.sort_values("replicate")["pvalue"].to_numpy(dtype=float)
    if not test.startswith("permutation"):
        return p
    t1 = design["type1"]
    rng = np.random.default_rng(_seed(design["seed"], "ks", dataset, 0.0, 0,
                                      f"{task}/{test}/{model}"))
    return randomized_pvalues(p, attainable_pvalues(t1["n_permutations"], t1["sequential"]),
                              rng)


def type1_table(replicates: pd.DataFrame, design: Mapping[str, Any]) -> pd.DataFrame:
    """Rejection rate, Clopper-Pearson interval and KS p-value of every type-I cell."""
    alpha, t1 = design["alpha"], design["type1"]
    rows = []
    for (dataset, task, test, model), group in null_cells(replicates):
        p = group["pvalue"].to_numpy(dtype=float)
        permutation = test.startswith("permutation")
        p_ks = uniform_pvalues(group, design)
        k = int(np.sum(p <= alpha))
        low, high = binomial_interval(k, p.size)
        rows.append({"test": test, "model": model, "n": int(group["n"].iloc[0]),
                     "alpha": alpha, "n_replicates": int(p.size), "type1_error": k / p.size,
                     "ci_low": low, "ci_high": high, "ks_p": _ks_uniform(p_ks),
                     "dataset": dataset, "task": task,
                     "n_permutations": t1["n_permutations"] if permutation else pd.NA,
                     "sequential": t1["sequential"] if permutation else pd.NA})
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def holds_alpha(type1: pd.DataFrame) -> pd.Series:
    """Whether each row of :func:`type1_table` has ``alpha`` inside its 95% interval."""
    return (type1["ci_low"] <= type1["alpha"]) & (type1["alpha"] <= type1["ci_high"])


def _tests_of(task: str) -> list[str]:
    return [_SIMULATED, _T_BASELINE] + ([_DELONG] if task == "classification" else [])


def _rejections(group: pd.DataFrame, null: pd.DataFrame, test: str, alpha: float
                ) -> np.ndarray:
    if test == _T_BASELINE:
        return group["p_baseline"].to_numpy(dtype=float) <= alpha
    if test == _DELONG:
        return group["p_delong"].to_numpy(dtype=float) <= alpha
    reference = null["statistic"].to_numpy(dtype=float)
    return np.array([_monte_carlo_reject(float(t), reference, alpha)
                     for t in group["statistic"]])


def power_table(replicates: pd.DataFrame, design: Mapping[str, Any]) -> pd.DataFrame:
    """Rejection rate per effect size and test, with Clopper-Pearson intervals."""
    alpha = design["alpha"]
    rows = []
    for (dataset, task, model), cell in replicates.groupby(["dataset", "task", "model"],
                                                           sort=False):
        null = cell[cell["effect_r2"] == 0.0]
        for test in _tests_of(task):
            for effect, group in cell.groupby("effect_r2", sort=True):
                if test == _SIMULATED and effect == 0.0:
                    continue  # its size is alpha by construction, not a measurement
                reject = _rejections(group, null, test, alpha)
                k = int(reject.sum())
                low, high = binomial_interval(k, reject.size)
                rows.append({"dataset": dataset, "task": task, "test": test, "model": model,
                             "n": int(group["n"].iloc[0]), "effect_r2": float(effect),
                             "effect_auc": population_auc(dataset, float(effect)),
                             "alpha": alpha, "n_replicates": int(reject.size),
                             "power": k / reject.size, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=POWER_COLUMNS)


def mde_table(power: pd.DataFrame, *, target: float = 0.8) -> pd.DataFrame:
    """The effect at which each power curve crosses ``target`` (log-linear interpolation)."""
    rows = []
    for (dataset, task, test, model, n), curve in power.groupby(
            ["dataset", "task", "test", "model", "n"], sort=False):
        curve = curve[curve["effect_r2"] > 0].sort_values("effect_r2")
        x = np.log(curve["effect_r2"].to_numpy(dtype=float))
        y = curve["power"].to_numpy(dtype=float)
        above = np.flatnonzero(y >= target)
        mde, note = float("nan"), ""
        if above.size == 0:
            note = f"power below {target:g} on the whole grid"
        elif above[0] == 0:
            note = f"power {y[0]:.2f} already at the smallest effect"
        else:
            j = above[0]
            frac = (target - y[j - 1]) / (y[j] - y[j - 1])
            mde = float(np.exp(x[j - 1] + frac * (x[j] - x[j - 1])))
        rows.append({"dataset": dataset, "task": task, "test": test, "model": model,
                     "n": int(n), "power_target": target, "mde_r2": mde,
                     "mde_auc": population_auc(dataset, mde) if math.isfinite(mde)
                     else float("nan"), "note": note})
    return pd.DataFrame(rows, columns=MDE_COLUMNS)


def _coverage_row(dataset, task, interval, model, metric, n, effect, truth, level, low, high):
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    hit = (low <= truth) & (truth <= high)
    k = int(hit.sum())
    ci = binomial_interval(k, hit.size)
    return {"dataset": dataset, "task": task, "interval": interval, "model": model,
            "metric": metric, "n": int(n), "effect_r2": effect, "truth": truth,
            "confidence_level": level, "n_replicates": int(hit.size), "coverage": k / hit.size,
            "ci_low": ci[0], "ci_high": ci[1], "mean_width": float(np.mean(high - low))}


def coverage_table(type1: pd.DataFrame, power: pd.DataFrame | None,
                   design: Mapping[str, Any]) -> pd.DataFrame:
    """How often each interval holds its known estimand."""
    level = design["confidence_level"]
    rows = []
    intervals = type1[type1["test"] == "intervals"]
    for (dataset, task, model), g in intervals.groupby(["dataset", "task", "model"],
                                                        sort=False):
        n, truth = int(g["n"].iloc[0]), float(g["truth"].iloc[0])
        for name, low, high in ((_BCA, "boot_low", "boot_high"), (_NB, "nb_low", "nb_high")):
            rows.append(_coverage_row(dataset, task, name, model, _METRIC[task], n, 0.0,
                                      truth, level, g[low], g[high]))
    if power is not None and "oracle_low" in power.columns:
        planted = power[power["effect_r2"] > 0]
        for (dataset, task, effect), g in planted.groupby(["dataset", "task", "effect_r2"],
                                                          sort=False):
            truth = (population_r2(dataset, effect) if task == "regression"
                     else population_auc(dataset, effect))
            rows.append(_coverage_row(dataset, task, _BCA, "oracle E[y|X]", _METRIC[task],
                                      int(g["n"].iloc[0]), float(effect), truth, level,
                                      g["oracle_low"], g["oracle_high"]))
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


# ----------------------------------------------------------------------------------------
# The whole calibration


@dataclass(frozen=True)
class CalibrationResult:
    """Every replicate's raw record and the summary tables computed from them.

    Attributes
    ----------
    design : dict
        The preset (with overrides) that produced it.
    type1_replicates, power_replicates : DataFrame
        One row per replicate and test (``power_replicates`` is empty without a power
        section): p-values, statistics and interval bounds, as saved.
    """

    design: Mapping[str, Any]
    type1_replicates: pd.DataFrame
    power_replicates: pd.DataFrame

    @functools.cached_property
    def type1(self) -> pd.DataFrame:
        return type1_table(self.type1_replicates, self.design)

    @functools.cached_property
    def power(self) -> pd.DataFrame | None:
        if self.power_replicates.empty:
            return None
        return power_table(self.power_replicates, self.design)

    @functools.cached_property
    def mde(self) -> pd.DataFrame | None:
        power = self.power
        return None if power is None else mde_table(power)

    @functools.cached_property
    def coverage(self) -> pd.DataFrame:
        power = None if self.power_replicates.empty else self.power_replicates
        return coverage_table(self.type1_replicates, power, self.design)


def design_for(preset: str, override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The design of ``preset`` with top-level ``override`` keys (``seed``) applied."""
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r}; expected one of {', '.join(PRESETS)}")
    design = copy.deepcopy(PRESETS[preset])
    for key, value in (override or {}).items():
        if key not in design:
            raise ValueError(f"override: unknown key {key!r}")
        design[key] = value
    design["preset"] = preset
    return design


def _tasks(design: Mapping[str, Any]) -> list[tuple[Callable[..., list[dict]], tuple, str]]:
    tasks = []
    t1 = design["type1"]
    datasets = design.get("datasets", _DATASETS)
    for dataset in datasets:
        for r in range(t1["n_replicates"]):
            tasks.append((_type1_replicate, (design, dataset, r), "type1"))
    power = design.get("power")
    if power:
        fewest = math.ceil(1 / design["alpha"]) - 1
        if power["n_null"] < fewest:
            raise ValueError(f"power.n_null = {power['n_null']}: a Monte Carlo test at alpha "
                             f"= {design['alpha']} needs at least {fewest} null tables")
        for dataset in datasets:
            top = max_effect(dataset, DEFAULT_EFFECT_KIND[dataset])
            for effect in (0.0, *power["effects"]):
                if effect >= top:
                    raise ValueError(f"power.effects: {effect} is beyond what the simulator "
                                     f"can plant for {dataset} ({top:.3f})")
                count = power["n_null"] if effect == 0.0 else power["n_replicates"]
                for r in range(count):
                    tasks.append((_power_replicate, (design, dataset, effect, r), "power"))
    return tasks


def calibrate(design: Mapping[str, Any], *, n_jobs: int = 1, backend: str = "loky",
              progress: Callable[[int, int], None] | None = None) -> CalibrationResult:
    """Run every replicate of ``design`` (see :func:`design_for`) and collect the records.

    Parameters
    ----------
    design : mapping
        A preset of :data:`PRESETS`, e.g. ``design_for("quick")``.
    n_jobs : int, default 1
        Replicates run in parallel (joblib); no number depends on it.
    backend : {"loky", "threading", "dask"}, default "loky"
    progress : callable, optional
        ``progress(done, total)`` after each replicate.

    Returns
    -------
    CalibrationResult
    """
    tasks = _tasks(design)
    records: dict[str, list[dict]] = {"type1": [], "power": []}
    with executor(n_jobs, backend) as (pool, _):
        results: Iterable[list[dict]] = pool(delayed(fn)(*args) for fn, args, _ in tasks)
        for i, ((_, _, section), rows) in enumerate(zip(tasks, results, strict=True)):
            records[section].extend(rows)
            if progress is not None:
                progress(i + 1, len(tasks))
    return CalibrationResult(dict(design), pd.DataFrame(records["type1"]),
                             pd.DataFrame(records["power"]))
