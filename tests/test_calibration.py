"""Calibration: its small statistics against scipy / statsmodels, and the machinery end to end.

The measured type-I errors, power and coverage of the quick preset are a run, not a test
(``python -m study.calibrate --preset quick``); here a tiny design checks that every piece
is computed as documented, and the slow test runs a small but real type-I calibration.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from study import calibrate as cli
from study import calibration as cal
from study.calibration_figures import ks_band


def tiny_design(**type1) -> dict:
    design = cal.design_for("quick")
    design["type1"].update({"n": 120, "n_replicates": 3, **type1})
    design["type1"]["forest"].update(n_replicates=1, n_estimators=5)
    # 19 null tables: the fewest with which a Monte Carlo test can reject at 0.05
    design["power"].update(n=400, n_null=19, n_replicates=2, effects=[0.02, 0.2])
    design["bootstrap"]["n_resamples"] = 99
    return design


@pytest.fixture(scope="module")
def tiny_result():
    return cal.calibrate(tiny_design())


# ----------------------------------------------------------------------------------------
# Small statistics


@pytest.mark.parametrize(("k", "n"), [(0, 20), (1, 20), (10, 200), (200, 200), (37, 500)])
def test_binomial_interval_is_clopper_pearson(k, n):
    low, high = cal.binomial_interval(k, n)
    ref = proportion_confint(k, n, alpha=0.05, method="beta")
    np.testing.assert_allclose((low, high), ref, atol=1e-10)


def test_binomial_interval_rejects_bad_counts():
    with pytest.raises(ValueError, match="k=5, n=3"):
        cal.binomial_interval(5, 3)


@pytest.mark.parametrize(("budget", "h"), [(19, None), (19, 1), (99, 5), (59, 3)])
def test_attainable_pvalues_match_the_rule(budget, h):
    expected = {(g + 1) / (budget + 1) for g in range(budget + 1 if h is None else h)}
    if h is not None:
        expected |= {h / length for length in range(h, budget + 1)}
    np.testing.assert_allclose(cal.attainable_pvalues(budget, h), sorted(expected))


def test_randomized_pvalues_of_an_exact_discrete_test_are_uniform():
    # an exact discrete p: the rank of the observed among B + 1 exchangeable values
    rng = np.random.default_rng(0)
    budget = 19
    p = rng.integers(1, budget + 2, size=4000) / (budget + 1)
    u = cal.randomized_pvalues(p, cal.attainable_pvalues(budget, None), rng)
    assert np.all((u > p - 1 / (budget + 1)) & (u <= p))
    assert stats.kstest(u, "uniform").pvalue > 0.01
    # a conservative test (p too large) is caught
    biased = np.minimum(p + 1 / (budget + 1), 1.0)
    v = cal.randomized_pvalues(biased, cal.attainable_pvalues(budget, None), rng)
    assert stats.kstest(v, "uniform").pvalue < 1e-6


def test_randomized_pvalues_refuse_values_the_rule_cannot_give():
    with pytest.raises(ValueError, match="attainable"):
        cal.randomized_pvalues([0.123], cal.attainable_pvalues(19, None),
                               np.random.default_rng(0))


def test_ks_band_is_the_kolmogorov_critical_value():
    m = 200
    x, low, high = ks_band(m)
    eps = stats.kstwo.ppf(0.95, m)
    # a sample inside the band everywhere has a KS statistic of at most eps, and vice versa
    rng = np.random.default_rng(1)
    for _ in range(50):
        p = np.sort(rng.random(m))
        inside = bool(np.all((p >= low - 1e-12) & (p <= high + 1e-12)))
        assert inside == (stats.kstest(p, "uniform").statistic <= eps + 1e-12)
    assert x[-1] == 1.0


def test_monte_carlo_test_is_exact_under_the_null():
    rng = np.random.default_rng(2)
    rejections = [cal._monte_carlo_reject(rng.normal(), rng.normal(size=99), 0.05)
                  for _ in range(4000)]
    # ceil(0.95 * 100) = 95: reject when above the 95th of 99, P = 5 / 100 exactly
    assert abs(np.mean(rejections) - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 4000)


def test_mde_interpolates_in_log_effect():
    power = pd.DataFrame({
        "dataset": "trends", "task": "regression", "test": "t", "model": "ridge", "n": 100,
        "effect_r2": [0.0, 0.01, 0.02, 0.04], "power": [0.05, 0.3, 0.7, 0.9]})
    row = cal.mde_table(power).iloc[0]
    expected = math.exp(math.log(0.02) + 0.5 * (math.log(0.04) - math.log(0.02)))
    assert row["mde_r2"] == pytest.approx(expected)
    weak = power.assign(power=[0.05, 0.1, 0.2, 0.3])
    assert math.isnan(cal.mde_table(weak).iloc[0]["mde_r2"])
    assert "below" in cal.mde_table(weak).iloc[0]["note"]


# ----------------------------------------------------------------------------------------
# The machinery on a tiny design


def test_tables_have_the_documented_columns(tiny_result):
    assert list(tiny_result.type1.columns) == cal.CALIBRATION_COLUMNS
    assert cal.CALIBRATION_COLUMNS[:9] == ["test", "model", "n", "alpha", "n_replicates",
                                           "type1_error", "ci_low", "ci_high", "ks_p"]
    assert list(tiny_result.power.columns) == cal.POWER_COLUMNS
    assert list(tiny_result.mde.columns) == cal.MDE_COLUMNS
    assert list(tiny_result.coverage.columns) == cal.COVERAGE_COLUMNS


def test_every_cell_is_tested(tiny_result):
    t1 = tiny_result.type1
    cells = set(zip(t1["dataset"], t1["test"], t1["model"], strict=True))
    for dataset in ("trends", "popularity"):
        for test, model in [("permutation (stratified)", "ridge"),
                            ("permutation (stratified)", "logistic"),
                            ("permutation (unstratified)", "ridge"),
                            ("permutation (unstratified)", "dummy"),
                            ("DeLong", "logistic"), ("corrected t vs baseline", "logistic")]:
            assert (dataset, test, model) in cells
    assert ("popularity", "permutation (stratified)", "random_forest") in cells
    assert (t1["n_replicates"] == np.where(t1["model"] == "random_forest", 1, 3)).all()
    assert (t1["n"] == 120).all()


def test_records_are_what_the_engines_return(tiny_result):
    reps = tiny_result.type1_replicates
    perm = reps[reps["test"].str.startswith("permutation")]
    grid = cal.attainable_pvalues(19, 1)
    assert np.all(np.isclose(perm["pvalue"].to_numpy()[:, None], grid[None, :]).any(axis=1))
    # the permutation test's statistic is the CV statistic of the same model and folds
    strat = reps[(reps["test"] == "permutation (stratified)") & (reps["model"] == "logistic")]
    delong = reps[reps["test"] == "DeLong"]
    np.testing.assert_allclose(strat.sort_values(["dataset", "replicate"])["statistic"],
                               delong.sort_values(["dataset", "replicate"])["statistic"],
                               rtol=0, atol=1e-12)


def test_power_rows_cover_the_grid_and_the_null(tiny_result):
    power = tiny_result.power
    assert set(power["effect_r2"]) == {0.0, 0.02, 0.2}
    null = power[power["effect_r2"] == 0.0]
    assert (null["n_replicates"] == 19).all() and (null["effect_auc"] == 0.5).all()
    # the simulated-null test's size is alpha by construction: no null row for it
    assert set(null["test"]) == {"corrected t vs baseline", "DeLong"}
    assert set(power["test"]) == {"permutation (simulated null)", "corrected t vs baseline",
                                  "DeLong"}
    assert power.loc[power["task"] == "regression", "test"].ne("DeLong").all()
    # population AUC grows with the planted R2
    auc = power[power["test"] == "DeLong"].groupby(["dataset", "effect_r2"])["effect_auc"]
    assert (auc.first().groupby(level=0).diff().dropna() > 0).all()
    # a large effect at 400 rows is found by every test of the classifier (ridge on 72
    # columns and 320 training rows overfits too much to beat the mean on trends)
    strong = power[(power["effect_r2"] == 0.2) & (power["task"] == "classification")]
    assert (strong["power"] == 1.0).all(), strong


def test_coverage_truths_are_the_population_values(tiny_result):
    from study.simulate import population_auc

    cov = tiny_result.coverage
    oracle = cov[cov["model"] == "oracle E[y|X]"]
    reg = oracle[oracle["metric"] == "r2"]
    np.testing.assert_allclose(reg["truth"], reg["effect_r2"], atol=1e-9)
    for _, row in oracle[oracle["metric"] == "roc_auc"].iterrows():
        assert row["truth"] == pytest.approx(population_auc(row["dataset"], row["effect_r2"]))
    h0 = cov[cov["effect_r2"] == 0]
    assert set(h0["interval"]) == {"bootstrap BCa", "Nadeau-Bengio t"}
    assert (h0["truth"] == 0.5).all()
    assert ((cov["coverage"] >= 0) & (cov["coverage"] <= 1)).all()


def test_identical_for_any_n_jobs(tiny_result):
    design = tiny_design(n_replicates=2)
    design["power"] = None
    design["type1"]["forest"] = None
    design["datasets"] = ["popularity"]
    one = cal.calibrate(design, n_jobs=1)
    two = cal.calibrate(design, n_jobs=2)
    pd.testing.assert_frame_equal(one.type1_replicates, two.type1_replicates)
    # and a replicate does not depend on how many run
    base = tiny_result.type1_replicates
    cols = ["dataset", "test", "model", "replicate", "pvalue"]
    mine = one.type1_replicates[cols]
    theirs = base[(base["model"] != "random_forest") & (base["dataset"] == "popularity")
                  & (base["replicate"] < 2)][cols]
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), theirs.reset_index(drop=True))


def test_command_writes_every_output_and_reuses_its_records(tmp_path, monkeypatch, capsys):
    design = tiny_design(n_replicates=2)
    design["type1"]["forest"] = None
    design["power"].update(n_null=19, n_replicates=1)
    design["datasets"] = ["popularity"]
    monkeypatch.setitem(cal.PRESETS, "quick", design)
    out = tmp_path / "out"
    assert cli.main(["--out", str(out), "--quiet"]) == 0
    for name in ("calibration", "calibration_power", "calibration_mde",
                 "calibration_coverage"):
        for ext in ("csv", "md", "tex"):
            assert (out / "tables" / f"{name}.{ext}").is_file()
    for name in ("calibration_qq", "calibration_power", "calibration_coverage"):
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert (out / f"{name}.png").stat().st_size > 10_000
    report = (out / "calibration.md").read_text()
    assert "## Type-I error" in report and "calibration_qq.png" in report
    first = (out / "tables" / "calibration.csv").read_bytes()
    printed = capsys.readouterr().out
    assert "type-I error:" in printed and "coverage:" in printed
    # a rerun renders the saved records: identical bytes, nothing recomputed
    monkeypatch.setattr(cli, "calibrate", lambda *a, **k: pytest.fail("recomputed"))
    assert cli.main(["--out", str(out), "--quiet"]) == 0
    assert (out / "tables" / "calibration.csv").read_bytes() == first
    assert "reused saved replicates" in capsys.readouterr().out
    saved = next((out / "cache").glob("calibration-*"))
    assert json.loads((saved / "design.json").read_text())["type1"]["n"] == 120


@pytest.mark.parametrize(("argv", "message"), [
    (["--jobs", "0"], "--jobs 0"),
    (["--seed", "-1"], "--seed -1"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, argv, message, capsys):
    out = tmp_path / "out"
    assert cli.main([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_preset_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--preset", "huge"])
    assert exc.value.code == 2


def test_design_overrides_are_checked():
    with pytest.raises(ValueError, match="unknown key 'n'"):
        cal.design_for("quick", {"n": 3})
    design = cal.design_for("quick", {"seed": 5})
    assert design["seed"] == 5 and cal.PRESETS["quick"]["seed"] != 5
    bad = copy.deepcopy(design)
    bad["power"]["effects"] = [0.999]
    with pytest.raises(ValueError, match="beyond what the simulator"):
        cal.calibrate(bad)
    few = copy.deepcopy(design)
    few["power"]["n_null"] = 10
    with pytest.raises(ValueError, match="at least 19 null tables"):
        cal.calibrate(few)


@pytest.mark.slow
def test_type1_error_of_the_linear_cells_holds_alpha():
    design = tiny_design()
    design["type1"].update(n=200, n_replicates=200)
    design["type1"]["forest"] = None
    design["power"] = None
    design["datasets"] = ["popularity"]
    table = cal.calibrate(design, n_jobs=2).type1
    # DeLong across folds is left out: the calibration measured it anti-conservative
    # (0.14-0.165 at alpha = 0.05; see study.inference.delong_cv)
    valid = table[table["test"] != "DeLong"]
    assert len(valid) == 5
    assert ((valid["ci_low"] <= 0.05) & (0.05 <= valid["ci_high"])).all(), valid
    perm = valid[valid["test"].str.startswith("permutation")]
    assert (perm["ks_p"] > 1e-3).all(), perm
