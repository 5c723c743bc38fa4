"""The original notebook reproduced number for number, and its flaws measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from study.datasets import load
from study.errors import DataError
from study.replicate import (
    FIXES,
    ORIGINAL,
    corrections,
    main,
    replicate_original,
    replication_frame,
    tolerance,
)

COLUMNS = ["dataset", "task", "model", "metric", "seed_value", "reproduced", "abs_diff"]


@pytest.fixture(scope="module")
def real_frames():
    from tests.conftest import DATA_DIR

    try:
        return {name: load(name, DATA_DIR)[0] for name in ("trends", "popularity")}
    except DataError:
        pytest.skip("the real CSVs are not in data/ (see data/README.md)")


@pytest.fixture(scope="module")
def replication(real_frames):
    return replication_frame(replicate_original(real_frames))


def test_every_original_number_is_reproduced(replication):
    assert list(replication.columns[:7]) == COLUMNS
    assert len(replication) == len(ORIGINAL) == 18
    keys = set(zip(replication.dataset, replication.task, replication.model,
                   replication.metric, strict=True))
    assert keys == set(ORIGINAL)
    for row in replication.itertuples():
        limit = 1e-3 if row.model != "random_forest" else 0.01
        if row.metric == "rmse":
            limit *= max(1.0, abs(row.seed_value))
        assert row.abs_diff <= limit * (1 + 1e-9), (row.dataset, row.model, row.metric)


def test_linear_models_reproduce_far_inside_tolerance(replication):
    """Linear models reproduce to about 1e-5 (SOURCES.md): the protocol is the same.

    Accuracy is left out: it moves in steps of one test row (1e-3), and saga's row shuffle,
    unseeded in the original, moves it by one row (see study.replicate).
    """
    linear = replication[(replication.model != "random_forest")
                         & (replication.metric != "accuracy")]
    relative = linear.abs_diff / np.maximum(1.0, linear.seed_value.abs())
    assert (relative < 1e-4).all()


def test_tolerance_is_relative_for_rmse_only():
    assert tolerance("ridge", "rmse", 1436.5) == pytest.approx(1.4365)
    assert tolerance("ridge", "rmse", 0.25) == 1e-3
    assert tolerance("random_forest", "roc_auc", 0.5) == 0.01


def test_corrections_on_the_real_linear_cells(real_frames):
    table = corrections(real_frames, models=["ridge", "logistic"])
    trends = table[table.dataset == "trends"]
    assert set(trends.fix) == {"drop_identifiers", "fold_safe_features"}
    assert set(table[table.dataset == "popularity"].fix) == {"drop_identifiers"}
    # each step starts where the previous one ended
    for _, group in table.groupby(["dataset", "task", "model", "metric"]):
        np.testing.assert_allclose(group.before.to_numpy()[1:], group.after.to_numpy()[:-1])
    np.testing.assert_allclose(table.effect, table.after - table.before)


def test_corrections_cover_every_fix_on_synthetic_data(make_frame):
    frames = {"trends": make_frame("trends", 400, seed=5),
              "popularity": make_frame("popularity", 400, seed=6)}
    table = corrections(frames)
    forests = table[table.model == "random_forest"]
    assert set(forests.fix) == {name for name, _ in FIXES[1:]}
    assert (table.fit_s_before > 0).all() and (table.fit_s_after > 0).all()
    assert table[["before", "after"]].notna().all().all()


def test_command_line_writes_the_tables(tmp_path, make_frame, capsys):
    from tests.conftest import write_csv

    for name, seed in (("trends", 1), ("popularity", 2)):
        write_csv(make_frame(name, 300, seed=seed), tmp_path, name)
    status = main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out"),
                   "--skip-corrections"])
    out = capsys.readouterr().out
    # synthetic data is not the original's, so numbers differ: status 1, named rows
    assert status == 1 and "outside tolerance" in out
    table = pd.read_csv(tmp_path / "out" / "tables" / "replication.csv")
    assert list(table.columns[:7]) == COLUMNS and len(table) == 18
    assert (tmp_path / "out" / "tables" / "replication.md").read_text().startswith("| dataset")
