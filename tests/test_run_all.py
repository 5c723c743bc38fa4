"""The study end to end: stages, caching, resume, determinism, demo mode, bad input."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from study import run_all
from study.datasets import get_spec
from tests.conftest import synthetic_frame, write_csv

TINY = """
seed = 11
models = ["ridge", "logistic"]
replication = "none"
calibration = "none"
[cv]
n_repeats = 2
[permutation]
n_permutations = 19
sequential = 3
[bootstrap]
n_resamples = 199
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def synthetic_dir(tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    for name, seed in (("trends", 1), ("popularity", 2)):
        write_csv(synthetic_frame(name, 300, seed=seed), directory, name)
    return directory


def _run(*args) -> int:
    return run_all.main([*map(str, args), "--quiet"])


def test_tiny_study_writes_every_output(tmp_path, tiny_config, synthetic_dir, capsys):
    out = tmp_path / "out"
    assert _run("--data-dir", synthetic_dir, "--out", out, "--preset", "quick",
                "--config", tiny_config) == 0
    printed = capsys.readouterr().out
    assert "verdict" in printed and "trends/regression/ridge: r2 =" in printed
    for name in ("pvalues", "fold_scores", "univariate", "forensics_marginals",
                 "forensics_pairwise", "forensics_impossible"):
        for ext in ("csv", "md", "tex"):
            assert (out / "tables" / f"{name}.{ext}").stat().st_size > 0
    for fig in ("permutation_nulls", "forest_plot", "roc_curves", "fold_scores",
                "forensics_pairs", "univariate_effects"):
        assert (out / f"{fig}.pdf").exists() and (out / f"{fig}.png").exists()
    assert not (out / "calibration_summary_qq.pdf").exists()  # calibration = "none"
    table = pd.read_csv(out / "tables" / "pvalues.csv")
    assert list(table.columns) == [
        "dataset", "task", "model", "metric", "statistic", "ci_low", "ci_high", "baseline",
        "diff_vs_baseline", "p_vs_baseline", "p_perm", "p_perm_two_sided", "p_holm", "q_bh",
        "p_delong", "p_tost", "verdict", "n_permutations"]
    primary = table[table.metric.isin(["r2", "roc_auc"]) & (table.model != "dummy")]
    assert len(primary) == 4 and (primary.p_perm > 0).all()
    assert set(primary.verdict) <= {"signal", "practically null", "inconclusive"}
    report = (out / "report.md").read_text()
    assert "## Methods" in report and "2 repeats of stratified 5-fold" in report
    assert "## Data forensics" in report and "## Univariate tests" in report
    univariate = pd.read_csv(out / "tables" / "univariate.csv")
    assert set(univariate.dataset) == {"trends", "popularity"}
    assert univariate.q_bh.between(0, 1).all()
    assert "python -m study.run_all" in report
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["data"]["trends"]["sha256"]
    assert manifest["timings_s"]["compute_s"] > 0
    assert "\\toprule" in (out / "tables" / "pvalues.tex").read_text()


def test_two_runs_give_byte_identical_tables(tmp_path, tiny_config, synthetic_dir):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, jobs in zip(outs, (1, 2), strict=True):
        assert _run("--data-dir", synthetic_dir, "--out", out, "--preset", "quick",
                    "--config", tiny_config, "--jobs", jobs) == 0
    for name in ("pvalues.csv", "fold_scores.csv"):
        assert (outs[0] / "tables" / name).read_bytes() == (outs[1] / "tables" / name
                                                             ).read_bytes()


def test_render_stage_never_fits(tmp_path, tiny_config, synthetic_dir, monkeypatch):
    out = tmp_path / "out"
    common = ["--data-dir", synthetic_dir, "--out", out, "--preset", "quick",
              "--config", tiny_config]
    assert _run(*common, "--stage", "compute") == 0
    assert not (out / "report.md").exists()

    def boom(*args, **kwargs):
        raise AssertionError("render fitted a model")

    monkeypatch.setattr(run_all, "cross_validate", boom)
    monkeypatch.setattr(run_all, "permutation_test", boom)
    assert _run(*common, "--stage", "render") == 0
    assert (out / "report.md").exists() and (out / "tables" / "pvalues.csv").exists()


def test_render_without_results_is_a_clear_error(tmp_path, tiny_config, synthetic_dir,
                                                  capsys):
    assert _run("--data-dir", synthetic_dir, "--out", tmp_path / "out", "--preset", "quick",
                "--config", tiny_config, "--stage", "render") == 2
    assert "run --stage compute first" in capsys.readouterr().err


def test_interrupted_compute_resumes(tmp_path, tiny_config, synthetic_dir, monkeypatch,
                                     capsys):
    out = tmp_path / "out"
    common = ["--data-dir", synthetic_dir, "--out", out, "--preset", "quick",
              "--config", tiny_config, "--stage", "compute"]
    real = run_all._compute_cell
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[3:6])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_all, "_compute_cell", interrupted)
    assert _run(*common) == 130
    saved = list((out / "cache").rglob("*.json"))
    assert len(saved) == 2  # two finished cells, nothing half-written
    assert not list((out / "cache").rglob("*.tmp"))
    monkeypatch.setattr(run_all, "_compute_cell", real)
    capsys.readouterr()
    assert _run(*common) == 0
    printed = capsys.readouterr().out
    assert printed.count("(cached)") == 2


def test_missing_files_with_data_dir_exit_2_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert _run("--data-dir", tmp_path / "nowhere", "--out", out) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and "kaggle" in err.lower()
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["--models", "ridge,xgboost"],
    ["--datasets", "wine"],
    ["--jobs", "0"],
    ["--scheduler", "tcp://127.0.0.1:1"],
])
def test_bad_options_exit_2_and_write_nothing(tmp_path, synthetic_dir, capsys, args):
    out = tmp_path / "out"
    assert _run("--data-dir", synthetic_dir, "--out", out, *args) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not out.exists()


def test_bad_config_file_exits_2(tmp_path, synthetic_dir, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[cv]\nn_splits = 1\n")
    out = tmp_path / "out"
    assert _run("--data-dir", synthetic_dir, "--out", out, "--config", bad) == 2
    assert "cv.n_splits" in capsys.readouterr().err
    assert not out.exists()


def test_demo_mode_without_data(tmp_path, tiny_config, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no data/ here
    assert _run("--out", "figures", "--preset", "quick", "--config", tiny_config) == 0
    err = capsys.readouterr().err
    assert "SYNTHETIC" in err and "data/README.md" in err
    demo = tmp_path / "figures" / "demo"
    table = pd.read_csv(demo / "tables" / "pvalues.csv")
    assert (table["data"] == "SYNTHETIC").all()
    assert "SYNTHETIC" in (demo / "report.md").read_text()
    assert not (tmp_path / "figures" / "tables").exists()
    assert os.path.exists(demo / "data" / get_spec("trends").filename)


def test_quick_preset_on_the_real_data(real_data_dir, tmp_path):
    out = tmp_path / "out"
    assert _run("--data-dir", real_data_dir, "--out", out, "--preset", "quick",
                "--jobs", 2) == 0
    table = pd.read_csv(out / "tables" / "pvalues.csv")
    primary = table[table.metric.isin(["r2", "roc_auc"]) & (table.model != "dummy")]
    assert len(primary) == 12
    assert primary[["statistic", "ci_low", "ci_high", "p_perm", "p_tost"]].notna().all().all()
    replication = pd.read_csv(out / "tables" / "replication.csv")
    assert replication["within_tolerance"].all()
    impossible = pd.read_csv(out / "tables" / "forensics_impossible.csv")
    likes = impossible[(impossible.dataset == "popularity")
                       & (impossible.check == "Likes > Views")]
    assert len(likes) == 1 and 0.08 < float(likes.fraction.iloc[0]) < 0.12
    # the calibration summary: every tested cell of the study's tests on null tables
    calibration = pd.read_csv(out / "tables" / "calibration_summary.csv")
    assert set(calibration.test) == {"permutation (stratified)", "DeLong",
                                     "corrected t vs baseline"}
    assert (calibration.n_replicates == 60).all()
    assert calibration.type1_error.between(0, 1).all() and calibration.ks_p.between(0, 1).all()
    report = (out / "report.md").read_text()
    assert "## Calibration (summary)" in report and "calibration_summary_qq.png" in report
    for fig in ("forensics_pairs", "univariate_effects", "calibration_summary_qq"):
        assert (out / f"{fig}.png").stat().st_size > 10_000


def test_a_task_without_a_chosen_model_is_left_out(tmp_path, tiny_config, synthetic_dir):
    out = tmp_path / "out"
    assert _run("--data-dir", synthetic_dir, "--out", out, "--preset", "quick",
                "--config", tiny_config, "--models", "ridge", "--datasets", "trends") == 0
    table = pd.read_csv(out / "tables" / "pvalues.csv")
    assert set(table.task) == {"regression"} and set(table.model) == {"ridge", "dummy"}
    assert not (out / "roc_curves.png").exists()  # nothing to draw, nothing stale
    assert (out / "report.md").exists() and (out / "manifest.json").exists()


def test_demo_render_without_results_writes_nothing(tmp_path, tiny_config, monkeypatch,
                                                     capsys):
    monkeypatch.chdir(tmp_path)
    assert _run("--out", "figures", "--preset", "quick", "--config", tiny_config,
                "--stage", "render") == 2
    assert "run --stage compute first" in capsys.readouterr().err
    assert not (tmp_path / "figures").exists()
