"""Presets and configuration validation."""

from __future__ import annotations

import pytest

from study.config import PRESETS, load_toml, resolve
from study.errors import ConfigError


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_resolve(preset):
    config = resolve(preset)
    assert config.n_splits == 5 and config.datasets == ("trends", "popularity")
    cells = config.cells()
    # 2 datasets x 2 tasks x (3 models + dummy)
    assert len(cells) == 16 and len([c for c in cells if c[2] != "dummy"]) == 12


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_lets_holm_reach_alpha_for_linear_models(preset):
    """With 12 headline tests, the smallest Holm-adjusted p is 12 / (B + 1)."""
    config = resolve(preset)
    family = len([c for c in config.cells() if c[2] != "dummy"])
    for model in ("ridge", "logistic"):
        assert family / (config.settings(model).n_permutations + 1) < config.alpha


def test_full_preset_is_the_paper_design():
    config = resolve("full")
    assert (config.n_repeats, config.n_permutations, config.n_resamples) == (10, 999, 9999)
    family = len([c for c in config.cells() if c[2] != "dummy"])
    for model in config.models:
        assert family / (config.settings(model).n_permutations + 1) < config.alpha


def test_override_and_model_settings():
    config = resolve("quick", {"seed": 7, "models": "ridge,random_forest",
                               "cv": {"n_repeats": 3},
                               "model_settings": {"random_forest": {"n_repeats": 2}}})
    assert config.seed == 7 and config.models == ("ridge", "random_forest")
    assert config.settings("random_forest").n_repeats == 2
    assert config.settings("ridge").n_repeats == 3
    assert ("trends", "classification", "random_forest") in config.cells()
    assert ("trends", "classification", "ridge") not in config.cells()


@pytest.mark.parametrize(("override", "named"), [
    ({"cv": {"n_splits": 1}}, "cv.n_splits"),
    ({"cv": {"n_folds": 5}}, "n_folds"),
    ({"permutation": {"n_permutations": 0}}, "permutation.n_permutations"),
    ({"bootstrap": {"confidence_level": 1.5}}, "bootstrap.confidence_level"),
    ({"models": ["ridge", "xgboost"]}, "xgboost"),
    ({"datasets": []}, "datasets"),
    ({"seed": -1}, "seed"),
    ({"seed": "abc"}, "seed"),
    ({"colour": "blue"}, "colour"),
    ({"replication": "some"}, "replication"),
    ({"model_settings": {"random_forest": {"n_repeats": 99}}}, "n_repeats"),
    ({"model_settings": {"svm": {}}}, "model_settings.svm"),
])
def test_bad_values_name_the_key(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        resolve("quick", override)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="--preset"):
        resolve("medium")


def test_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[cv\nn_splits = 5\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_toml(tmp_path / "missing.toml")
    good = tmp_path / "good.toml"
    good.write_text("seed = 3\n[cv]\nn_repeats = 4\n")
    assert resolve("quick", load_toml(good)).n_repeats == 4


def test_models_without_any_task_is_an_error():
    with pytest.raises(ConfigError, match="has no model for tasks"):
        resolve("quick", {"models": ["ridge"], "tasks": ["classification"]})
