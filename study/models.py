"""The model zoo: the original analysis's learners, their baselines and stronger learners.

Every model is a scikit-learn :class:`~sklearn.pipeline.Pipeline` of two steps,
``("prep", make_preprocessor(spec, ...))`` and ``("model", estimator)``, so that one object is
refitted, preprocessing included, inside every training fold. The ``"prep"`` step is
label-free by construction (imputers, encoders, frequency counts and scalers never see
``y``); :mod:`study.permutation` relies on that name and that property to fit it once per
fold when the permutation scheme allows.

Regression:

- ``ridge``: ``Ridge(alpha=1.0, solver="cholesky")`` on scaled, dense input;
- ``random_forest``: ``RandomForestRegressor(n_estimators=200)`` on dense float input;
- ``hist_gradient_boosting``: ``HistGradientBoostingRegressor()`` on dense float input;
- ``dummy``: ``DummyRegressor(strategy="mean")``, the baseline.

Classification:

- ``logistic``: ``LogisticRegression(C=0.1)`` (Newton-Cholesky, see below) on scaled, dense
  input;
- ``random_forest``: ``RandomForestClassifier(n_estimators=300)`` on dense float input;
- ``hist_gradient_boosting``: ``HistGradientBoostingClassifier()`` on dense float input;
- ``dummy``: ``DummyClassifier(strategy="prior")``, the baseline.

Choices that differ from the original notebook, and why:

- Linear models get standardised, dense input and an exact solver. Ridge uses the Cholesky
  solver, so the batched permutation path (one factorisation, many right-hand sides) agrees
  with a refit to rounding error.
- The original fitted ``LogisticRegression(C=0.1, solver="saga", max_iter=20000, tol=1e-3)``.
  Here the same penalised likelihood is solved by Newton-Cholesky to ``tol=1e-8``: on the
  full trends and popularity designs it is five to seven times faster than the original saga
  fit and its coefficients land within about 1e-9 of saga run to ``tol=1e-12``, where the
  original's ``tol=1e-3`` stopped up to 1e-4 away (``tests/test_models.py`` checks the
  agreement to 1e-4). The optimum, not the path, defines the model.
- Forests and gradient boosting get a dense float array: sparse one-hot input made a forest
  several times slower on these tables.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from study.datasets import DatasetSpec
from study.features import make_preprocessor
from study.parallel import seed_to_int
from study.resampling import check_task

__all__ = ["LINEAR_MODELS", "MODELS", "TASKS", "ModelBuilder", "baseline_name", "build_model"]

#: The two task framings.
TASKS = ("regression", "classification")

#: ``builder(seed, n_estimators) -> estimator``; ``n_estimators`` is ``None`` for the default.
ModelBuilder = Callable[[int, "int | None"], BaseEstimator]

#: Default forest sizes, as in the original analysis.
_TREES = {"regression": 200, "classification": 300}


def _ridge(seed: int, n_estimators: int | None) -> BaseEstimator:
    return Ridge(alpha=1.0, solver="cholesky")


def _logistic(seed: int, n_estimators: int | None) -> BaseEstimator:
    return LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-8, max_iter=100)


def _forest_regressor(seed: int, n_estimators: int | None) -> BaseEstimator:
    return RandomForestRegressor(n_estimators=n_estimators or _TREES["regression"],
                                 random_state=seed, n_jobs=1)


def _forest_classifier(seed: int, n_estimators: int | None) -> BaseEstimator:
    return RandomForestClassifier(n_estimators=n_estimators or _TREES["classification"],
                                  random_state=seed, n_jobs=1)


def _hgb_regressor(seed: int, n_estimators: int | None) -> BaseEstimator:
    if n_estimators is None:
        return HistGradientBoostingRegressor(random_state=seed)
    return HistGradientBoostingRegressor(max_iter=n_estimators, random_state=seed)


def _hgb_classifier(seed: int, n_estimators: int | None) -> BaseEstimator:
    if n_estimators is None:
        return HistGradientBoostingClassifier(random_state=seed)
    return HistGradientBoostingClassifier(max_iter=n_estimators, random_state=seed)


def _dummy_regressor(seed: int, n_estimators: int | None) -> BaseEstimator:
    return DummyRegressor(strategy="mean")


def _dummy_classifier(seed: int, n_estimators: int | None) -> BaseEstimator:
    return DummyClassifier(strategy="prior")


#: Registry: task -> model name -> builder. Names are public (command line, tables).
MODELS: dict[str, dict[str, ModelBuilder]] = {
    "regression": {
        "ridge": _ridge,
        "random_forest": _forest_regressor,
        "hist_gradient_boosting": _hgb_regressor,
        "dummy": _dummy_regressor,
    },
    "classification": {
        "logistic": _logistic,
        "random_forest": _forest_classifier,
        "hist_gradient_boosting": _hgb_classifier,
        "dummy": _dummy_classifier,
    },
}

#: Models that get standardised input (their penalty is not scale-invariant).
LINEAR_MODELS = frozenset({"ridge", "logistic"})


def baseline_name(task: str) -> str:
    """The chance-level baseline of ``task`` (the mean or class-prior predictor)."""
    check_task(task)
    return "dummy"


def build_model(
    name: str,
    spec: DatasetSpec,
    task: str,
    *,
    random_state: int | np.random.SeedSequence,
    n_estimators: int | None = None,
) -> Pipeline:
    """A fresh, unfitted pipeline ``prep -> model`` for one dataset and task.

    Parameters
    ----------
    name : str
        A key of ``MODELS[task]``.
    spec : DatasetSpec
        The dataset whose raw frame the pipeline takes.
    task : {"regression", "classification"}
    random_state : int or numpy.random.SeedSequence
        Seed of the estimator's own randomness (forests, boosting). An int is passed to
        scikit-learn unchanged; a seed sequence gives a 32-bit integer drawn from it. The
        global RNG is never used.
    n_estimators : int, optional
        Override the number of trees (forests) or boosting iterations (for quick presets).
        Ignored by the models that have none.

    Returns
    -------
    Pipeline
        ``Pipeline([("prep", make_preprocessor(spec, scale=..., dense=True)),
        ("model", estimator)])``, with ``scale=True`` for the linear models.

    Raises
    ------
    ValueError
        If ``task`` or ``name`` is unknown (the message lists the choices), or
        ``n_estimators`` is not a positive integer.
    """
    check_task(task)
    registry = MODELS[task]
    if name not in registry:
        raise ValueError(
            f"model={name!r} is unknown for task={task!r}; expected one of "
            f"{', '.join(registry)}"
        )
    if n_estimators is not None and (
        not isinstance(n_estimators, int) or isinstance(n_estimators, bool) or n_estimators < 1
    ):
        raise ValueError(f"n_estimators={n_estimators!r} must be a positive integer or None")
    seed = seed_to_int(random_state)
    estimator = registry[name](seed, n_estimators)
    prep = make_preprocessor(spec, scale=name in LINEAR_MODELS, dense=True)
    return Pipeline([("prep", prep), ("model", estimator)])
