"""The model zoo: names, settings, input kinds, seeds, and the logistic solver's optimum."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from study.datasets import class_target, get_spec, load
from study.features import feature_columns
from study.models import MODELS, baseline_name, build_model


def test_registry_names_are_the_public_ones():
    assert set(MODELS) == {"regression", "classification"}
    assert list(MODELS["regression"]) == [
        "ridge", "random_forest", "hist_gradient_boosting", "dummy"]
    assert list(MODELS["classification"]) == [
        "logistic", "random_forest", "hist_gradient_boosting", "dummy"]
    for task in MODELS:
        assert baseline_name(task) in MODELS[task]


@pytest.mark.parametrize("dataset", ["trends", "popularity"])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_every_model_is_a_prep_model_pipeline(dataset, task):
    spec = get_spec(dataset)
    for name in MODELS[task]:
        model = build_model(name, spec, task, random_state=0)
        assert isinstance(model, Pipeline)
        assert [step for step, _ in model.steps] == ["prep", "model"]


def test_original_settings():
    spec = get_spec("trends")
    ridge = build_model("ridge", spec, "regression", random_state=0)["model"]
    assert isinstance(ridge, Ridge) and ridge.alpha == 1.0 and ridge.solver == "cholesky"
    rf = build_model("random_forest", spec, "regression", random_state=0)["model"]
    assert isinstance(rf, RandomForestRegressor) and rf.n_estimators == 200
    rfc = build_model("random_forest", spec, "classification", random_state=0)["model"]
    assert isinstance(rfc, RandomForestClassifier) and rfc.n_estimators == 300
    logit = build_model("logistic", spec, "classification", random_state=0)["model"]
    assert isinstance(logit, LogisticRegression) and logit.C == 0.1
    dummy = build_model("dummy", spec, "regression", random_state=0)["model"]
    assert isinstance(dummy, DummyRegressor) and dummy.strategy == "mean"
    dummyc = build_model("dummy", spec, "classification", random_state=0)["model"]
    assert isinstance(dummyc, DummyClassifier) and dummyc.strategy == "prior"


def test_n_estimators_override():
    spec = get_spec("trends")
    rf = build_model("random_forest", spec, "classification", random_state=0, n_estimators=7)
    assert rf["model"].n_estimators == 7
    hgb = build_model("hist_gradient_boosting", spec, "regression", random_state=0,
                      n_estimators=9)
    assert hgb["model"].max_iter == 9
    with pytest.raises(ValueError, match="n_estimators"):
        build_model("random_forest", spec, "regression", random_state=0, n_estimators=0)


def test_unknown_names_are_refused_with_the_choices():
    spec = get_spec("trends")
    with pytest.raises(ValueError, match=r"model='svm'.*ridge, random_forest"):
        build_model("svm", spec, "regression", random_state=0)
    with pytest.raises(ValueError, match=r"model='ridge'.*logistic"):
        build_model("ridge", spec, "classification", random_state=0)
    with pytest.raises(ValueError, match="task="):
        build_model("ridge", spec, "ranking", random_state=0)
    with pytest.raises(ValueError, match="task="):
        baseline_name("ranking")


def test_random_state_is_threaded_without_global_rng():
    spec = get_spec("trends")
    seq = np.random.SeedSequence(42)
    a = build_model("random_forest", spec, "regression", random_state=seq)
    b = build_model("random_forest", spec, "regression", random_state=seq)
    assert a["model"].random_state == b["model"].random_state  # the object is not consumed
    assert isinstance(a["model"].random_state, int)
    other = build_model("random_forest", spec, "regression",
                        random_state=np.random.SeedSequence(43))
    assert other["model"].random_state != a["model"].random_state
    assert build_model("random_forest", spec, "regression",
                       random_state=5)["model"].random_state == 5
    with pytest.raises(ValueError, match="random_state"):
        build_model("random_forest", spec, "regression", random_state=None)


def test_forest_fits_reproducibly_from_a_seed(make_frame):
    spec = get_spec("popularity")
    frame = make_frame("popularity", 200, seed=3)
    y = frame[spec.target].to_numpy()
    preds = []
    for _ in range(2):
        np.random.seed(None)  # noqa: NPY002 - the global RNG must not matter
        model = build_model("random_forest", spec, "regression",
                            random_state=np.random.SeedSequence(7), n_estimators=10)
        preds.append(model.fit(frame, y).predict(frame))
    np.testing.assert_array_equal(preds[0], preds[1])


@pytest.mark.parametrize("name", ["random_forest", "hist_gradient_boosting", "dummy"])
def test_trees_get_dense_float_input(make_frame, name):
    spec = get_spec("trends")
    frame = make_frame("trends", 120, seed=1)
    model = build_model(name, spec, "regression", random_state=0)
    Z = model["prep"].fit_transform(frame)
    assert not sp.issparse(Z)
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float64


def test_linear_models_get_scaled_dense_input(make_frame):
    spec = get_spec("trends")
    frame = make_frame("trends", 300, seed=2)
    numeric, _ = feature_columns(spec)
    for name, task in [("ridge", "regression"), ("logistic", "classification")]:
        Z = build_model(name, spec, task, random_state=0)["prep"].fit_transform(frame)
        assert isinstance(Z, np.ndarray) and not sp.issparse(Z)
        num = Z[:, : len(numeric)]
        varying = num.std(axis=0) > 0
        np.testing.assert_allclose(num.mean(axis=0), 0.0, atol=1e-10)
        np.testing.assert_allclose(num.std(axis=0)[varying], 1.0, rtol=1e-10)


def _saga_optimum(Z, y):
    tight = LogisticRegression(C=0.1, solver="saga", max_iter=100_000, tol=1e-12)
    return tight.fit(Z, y)


def _check_same_optimum(model, frame, y):
    Z = model["prep"].fit_transform(frame)
    ours = model["model"].fit(Z, y)
    ref = _saga_optimum(Z, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours.predict_proba(Z), ref.predict_proba(Z), atol=1e-5, rtol=0)
    return ours, ref


def test_logistic_solver_reaches_the_saga_optimum(make_frame):
    spec = get_spec("trends")
    frame = make_frame("trends", 1500, seed=4)
    model = build_model("logistic", spec, "classification", random_state=0)
    Z = model["prep"].fit_transform(frame)
    # a planted signal, so that the optimum is far from zero
    rng = np.random.default_rng(0)
    score = Z[:, :8] @ rng.normal(size=8)
    y = (score + rng.logistic(size=len(score)) > 0).astype(int)
    ours, _ = _check_same_optimum(model, frame, y)
    assert np.abs(ours.coef_).max() > 0.1


@pytest.mark.realdata
def test_logistic_solver_reaches_the_saga_optimum_on_real_data(real_data_dir):
    for name in ("trends", "popularity"):
        spec = get_spec(name)
        frame, _ = load(name, real_data_dir)
        y = class_target(frame[spec.target].to_numpy(),
                         spec.task("classification").threshold_rule)
        model = build_model("logistic", spec, "classification", random_state=0)
        _check_same_optimum(model, frame, y)
