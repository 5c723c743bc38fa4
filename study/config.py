"""Presets and configuration of the study: plain data, validated at the boundary.

A configuration is a nested mapping (the same shape as the TOML file ``--config`` reads).
``quick`` and ``full`` are the two presets; a TOML file overrides any key of the chosen
preset, and :func:`resolve` validates the result into a frozen :class:`Config`. Every bad
value raises :class:`~study.errors.ConfigError` naming the key.

Per-model overrides (``[models.random_forest]``: ``n_repeats``, ``n_permutations``,
``sequential``, ``n_estimators``) keep the expensive learners inside the time budget. A
cell's CV, permutation test and bootstrap all use the cell's own settings, so the interval
and the test always speak of one statistic; a cell with fewer repeats uses the first
repeats of the shared partitions, and its baseline comparison uses the same repeats.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study.datasets import DATASETS
from study.errors import ConfigError
from study.models import MODELS, TASKS, baseline_name

__all__ = ["PRESETS", "Config", "ModelSettings", "digest", "load_toml", "resolve"]

#: The presets, as plain data (shown in the README).
PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "seed": 20261204,
        "datasets": ["trends", "popularity"],
        "tasks": ["regression", "classification"],
        "models": ["ridge", "logistic", "random_forest", "hist_gradient_boosting"],
        "cv": {"n_splits": 5, "n_repeats": 10, "n_bins": 10},
        "permutation": {"n_permutations": 999, "sequential": 5},
        "bootstrap": {"n_resamples": 9999, "confidence_level": 0.95},
        "inference": {"alpha": 0.05, "auc_margin": 0.02, "r2_margin": 0.01},
        "univariate": {"n_resamples": 999},
        "replication": "all",
        "calibration": "summary",
        "model_settings": {
            # To fit the 15-minute budget on two cores: 100 trees instead of the original's
            # 200 / 300 (the replication keeps those; the forest's Monte Carlo noise changes,
            # not its expected prediction), 50 boosting iterations instead of 100, one
            # repeat, and stopping at the second exceedance. B = 299 still lets Holm reach
            # 0.05 over the 12 tests.
            "random_forest": {"n_repeats": 1, "n_permutations": 299, "sequential": 2,
                              "n_estimators": 100},
            "hist_gradient_boosting": {"n_repeats": 1, "n_permutations": 299,
                                       "sequential": 2, "n_estimators": 50},
        },
    },
    "quick": {
        "seed": 20261204,
        "datasets": ["trends", "popularity"],
        "tasks": ["regression", "classification"],
        "models": ["ridge", "logistic", "random_forest", "hist_gradient_boosting"],
        "cv": {"n_splits": 5, "n_repeats": 2, "n_bins": 10},
        "permutation": {"n_permutations": 299, "sequential": 5},
        "bootstrap": {"n_resamples": 999, "confidence_level": 0.95},
        "inference": {"alpha": 0.05, "auc_margin": 0.02, "r2_margin": 0.01},
        "univariate": {"n_resamples": 199},
        "replication": "linear",
        "calibration": "summary",
        "model_settings": {
            "random_forest": {"n_repeats": 1, "n_permutations": 19, "sequential": 3,
                              "n_estimators": 20},
            "hist_gradient_boosting": {"n_repeats": 1, "n_permutations": 19,
                                       "sequential": 3, "n_estimators": 30},
        },
    },
}

_TOP_KEYS = {"seed", "datasets", "tasks", "models", "cv", "permutation", "bootstrap",
             "inference", "model_settings", "replication", "univariate", "calibration"}
_REPLICATION = ("all", "linear", "none")
_CALIBRATION = ("summary", "none")
_SECTION_KEYS = {
    "cv": {"n_splits", "n_repeats", "n_bins"},
    "permutation": {"n_permutations", "sequential"},
    "bootstrap": {"n_resamples", "confidence_level"},
    "inference": {"alpha", "auc_margin", "r2_margin"},
    "univariate": {"n_resamples"},
}
_MODEL_KEYS = {"n_repeats", "n_permutations", "sequential", "n_estimators"}


@dataclass(frozen=True)
class ModelSettings:
    """The resampling design of one model's cells."""

    n_repeats: int
    n_permutations: int
    sequential: int | None
    n_estimators: int | None


@dataclass(frozen=True)
class Config:
    """A validated configuration (see :data:`PRESETS` for the meaning of each key)."""

    preset: str
    seed: int
    datasets: tuple[str, ...]
    tasks: tuple[str, ...]
    models: tuple[str, ...]
    n_splits: int
    n_repeats: int
    n_bins: int
    n_permutations: int
    sequential: int | None
    n_resamples: int
    confidence_level: float
    alpha: float
    auc_margin: float
    r2_margin: float
    replication: str
    univariate_resamples: int
    calibration: str
    model_settings: Mapping[str, ModelSettings]
    raw: Mapping[str, Any]

    def settings(self, model: str) -> ModelSettings:
        """The design of ``model``'s cells (the baseline uses the preset's)."""
        default = ModelSettings(self.n_repeats, self.n_permutations, self.sequential, None)
        return self.model_settings.get(model, default)

    def cells(self) -> list[tuple[str, str, str]]:
        """Every (dataset, task, model) to compute, baselines included, in table order."""
        out = []
        for dataset in self.datasets:
            for task in self.tasks:
                chosen = [m for m in self.models if m in MODELS[task]]
                if not chosen:  # e.g. --models ridge: no classification cells at all
                    continue
                out += [(dataset, task, m) for m in chosen]
                out.append((dataset, task, baseline_name(task)))
        return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file; errors name the file and the line."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not a UTF-8 text file") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any], where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _int(value: Any, key: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} = {value!r}: expected an integer >= {minimum}")
    return value


def _float(value: Any, key: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value < high:
        raise ConfigError(f"{key} = {value!r}: expected a number in ({low}, {high})")
    return float(value)


def _names(value: Any, key: str, known: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{key} = {value!r}: expected a non-empty list of names")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ConfigError(f"{key}: unknown name(s) {unknown}; expected some of {known}")
    return tuple(dict.fromkeys(value))


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{key} = {value!r}: expected one of {list(choices)}")
    return value


def _sequential(value: Any, key: str) -> int | None:
    if value is None or value is False or value == 0:
        return None
    return _int(value, key, minimum=1)


def resolve(preset: str = "full", override: Mapping[str, Any] | None = None) -> Config:
    """Validate ``preset`` with ``override`` applied into a :class:`Config`.

    Raises
    ------
    ConfigError
        Naming the key: an unknown preset, section or key, a value of the wrong type or out
        of range, an unknown dataset, task or model name.
    """
    if preset not in PRESETS:
        raise ConfigError(f"--preset {preset!r}: expected one of {sorted(PRESETS)}")
    override = dict(override or {})
    unknown = sorted(set(override) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown configuration key(s) {unknown}; expected {sorted(_TOP_KEYS)}")
    for section, keys in _SECTION_KEYS.items():
        given = override.get(section, {})
        if not isinstance(given, Mapping):
            raise ConfigError(f"[{section}] must be a table of keys {sorted(keys)}")
        bad = sorted(set(given) - keys)
        if bad:
            raise ConfigError(f"[{section}]: unknown key(s) {bad}; expected {sorted(keys)}")
    raw = _merge(PRESETS[preset], override)

    all_models = sorted({m for task in TASKS for m in MODELS[task]} - {"dummy"})
    seed = _int(raw["seed"], "seed", minimum=0)
    datasets = _names(raw["datasets"], "datasets", sorted(DATASETS))
    tasks = _names(raw["tasks"], "tasks", list(TASKS))
    models = _names(raw["models"], "models", all_models)
    if not any(m in MODELS[t] for t in tasks for m in models):
        raise ConfigError(f"models = {list(models)} has no model for tasks = {list(tasks)}")
    cv, perm, boot, inf = raw["cv"], raw["permutation"], raw["bootstrap"], raw["inference"]
    n_repeats = _int(cv["n_repeats"], "cv.n_repeats", minimum=1)
    settings = {}
    model_settings = raw.get("model_settings", {})
    if not isinstance(model_settings, Mapping):
        raise ConfigError("[model_settings] must be a table of per-model tables")
    for name, values in model_settings.items():
        where = f"model_settings.{name}"
        if name not in all_models:
            raise ConfigError(f"[{where}]: unknown model; expected one of {all_models}")
        if not isinstance(values, Mapping) or set(values) - _MODEL_KEYS:
            raise ConfigError(f"[{where}]: expected keys among {sorted(_MODEL_KEYS)}")
        repeats = _int(values.get("n_repeats", n_repeats), f"{where}.n_repeats", minimum=1)
        if repeats > n_repeats:
            raise ConfigError(f"{where}.n_repeats = {repeats} exceeds cv.n_repeats = "
                              f"{n_repeats}: a model's repeats are a subset of the shared ones")
        trees = values.get("n_estimators")
        settings[name] = ModelSettings(
            n_repeats=repeats,
            n_permutations=_int(values.get("n_permutations", perm["n_permutations"]),
                                f"{where}.n_permutations", minimum=1),
            sequential=_sequential(values.get("sequential", perm["sequential"]),
                                   f"{where}.sequential"),
            n_estimators=None if trees is None else _int(trees, f"{where}.n_estimators",
                                                          minimum=1),
        )
    return Config(
        preset=preset,
        seed=seed,
        datasets=datasets,
        tasks=tasks,
        models=models,
        n_splits=_int(cv["n_splits"], "cv.n_splits", minimum=2),
        n_repeats=n_repeats,
        n_bins=_int(cv["n_bins"], "cv.n_bins", minimum=1),
        n_permutations=_int(perm["n_permutations"], "permutation.n_permutations", minimum=1),
        sequential=_sequential(perm["sequential"], "permutation.sequential"),
        n_resamples=_int(boot["n_resamples"], "bootstrap.n_resamples", minimum=99),
        confidence_level=_float(boot["confidence_level"], "bootstrap.confidence_level",
                                low=0.5, high=1.0),
        alpha=_float(inf["alpha"], "inference.alpha", low=0.0, high=0.5),
        auc_margin=_float(inf["auc_margin"], "inference.auc_margin", low=0.0, high=0.5),
        r2_margin=_float(inf["r2_margin"], "inference.r2_margin", low=0.0, high=1.0),
        replication=_choice(raw["replication"], "replication", _REPLICATION),
        univariate_resamples=_int(raw["univariate"]["n_resamples"], "univariate.n_resamples",
                                  minimum=99),
        calibration=_choice(raw["calibration"], "calibration", _CALIBRATION),
        model_settings=settings,
        raw=raw,
    )


def digest(*parts: object) -> str:
    """A short, stable digest of JSON-serialisable parts (a cache key)."""
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
