"""The data layer: specs, loading, provenance, and every kind of bad input."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from study.datasets import DATASETS, class_target, file_sha256, get_spec, load
from study.errors import DataError, DataWarning
from study.replicate import main as replicate_main
from tests.conftest import write_csv


def test_specs_match_the_published_schemas():
    trends, popularity = DATASETS["trends"], DATASETS["popularity"]
    assert trends.target == "Popularity_Score" and popularity.target == "Engagement_Score"
    assert trends.task("classification").threshold_rule == ">="
    assert popularity.task("classification").threshold_rule == ">"
    assert set(trends.identifiers) == {"Artwork_ID", "Image_URL"}
    assert trends.constants == ("Description",)
    for spec in DATASETS.values():
        assert set(spec.features) <= set(spec.columns)
        assert not set(spec.features) & set(spec.identifiers + spec.constants + (spec.target,))
    with pytest.raises(ValueError, match="dataset='nope'"):
        get_spec("nope")


def test_class_target_thresholds_follow_the_original():
    values = np.array([1.0, 2.0, 2.0, 3.0])  # median 2.0
    assert class_target(values, ">=").tolist() == [0, 1, 1, 1]
    assert class_target(values, ">").tolist() == [0, 0, 0, 1]


def test_load_synthetic_roundtrip_and_provenance(tmp_path, make_frame):
    frame = make_frame("trends", 300)
    path = write_csv(frame, tmp_path, "trends")
    with pytest.warns(DataWarning, match="differs from the published release"):
        loaded, prov = load("trends", tmp_path)
    assert loaded.shape == frame.shape
    assert list(loaded.columns) == list(get_spec("trends").columns)
    assert prov.sha256 == file_sha256(path) and not prov.matches_release
    assert prov.n_rows == 300 and any("sha256" in w for w in prov.warnings)


def test_real_files_match_the_release(real_data_dir):
    for name, spec in DATASETS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            frame, prov = load(name, real_data_dir)
        assert prov.matches_release and prov.n_rows == spec.n_rows == len(frame)
        assert prov.warnings == ()


def _load_error(tmp_path, name="trends") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(DataError) as info:
            load(name, tmp_path)
    return str(info.value)


def test_missing_file_says_where_to_get_it(tmp_path):
    message = _load_error(tmp_path)
    assert "ai_generated_art_trends_2024.csv" in message
    assert "kaggle.com/datasets/waqi786/ai-generated-art-trends" in message


def test_empty_file(tmp_path):
    (tmp_path / get_spec("trends").filename).write_bytes(b"")
    assert "empty" in _load_error(tmp_path)


def test_header_only_file(tmp_path, make_frame):
    make_frame("trends", 5).iloc[:0].to_csv(tmp_path / get_spec("trends").filename,
                                             index=False)
    assert "no data rows" in _load_error(tmp_path)


def test_binary_file(tmp_path):
    (tmp_path / get_spec("trends").filename).write_bytes(bytes(range(256)) * 10)
    assert "binary" in _load_error(tmp_path)


def test_not_a_csv(tmp_path):
    (tmp_path / get_spec("trends").filename).write_bytes(b'a,b\n1,2\n"unterminated,3\n')
    message = _load_error(tmp_path)
    assert "not a readable CSV" in message or "missing column" in message


def test_renamed_column_is_named_with_a_suggestion(tmp_path, make_frame):
    frame = make_frame("trends", 300).rename(columns={"Popularity_Score": "Popularity Score"})
    write_csv(frame, tmp_path, "trends")
    message = _load_error(tmp_path)
    assert "'Popularity_Score'" in message and "'Popularity Score' looks like" in message


def test_non_numeric_target_names_the_rows(tmp_path, make_frame):
    frame = make_frame("trends", 300)
    frame["Popularity_Score"] = frame["Popularity_Score"].astype(object)
    frame.loc[[3, 7], "Popularity_Score"] = "high"
    write_csv(frame, tmp_path, "trends")
    message = _load_error(tmp_path)
    assert "'Popularity_Score' must be numeric" in message
    assert "line(s) 5, 9" in message  # header is line 1, row 3 is line 5


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_target(tmp_path, make_frame, bad):
    frame = make_frame("popularity", 300)
    frame.loc[10, "Engagement_Score"] = bad
    write_csv(frame, tmp_path, "popularity")
    message = _load_error(tmp_path, "popularity")
    assert "'Engagement_Score' has 1 missing or infinite" in message and "line(s) 12" in message


def test_unparsable_dates_warn_with_a_count(tmp_path, make_frame):
    frame = make_frame("trends", 300)
    frame.loc[[0, 1], "Creation_Date"] = "not a date"
    write_csv(frame, tmp_path, "trends")
    with pytest.warns(DataWarning) as record:
        loaded, _prov = load("trends", tmp_path)
    messages = [str(w.message) for w in record]
    assert any("2 unparsable date(s)" in m and "line(s) 2, 3" in m for m in messages)
    assert len(loaded) == 300  # kept, never silently dropped


def test_duplicate_ids(tmp_path, make_frame):
    frame = make_frame("popularity", 300)
    frame.loc[5, "Artwork_ID"] = frame.loc[2, "Artwork_ID"]
    write_csv(frame, tmp_path, "popularity")
    message = _load_error(tmp_path, "popularity")
    assert "duplicated identifier" in message and "line(s) 4, 7" in message


def test_constant_target(tmp_path, make_frame):
    frame = make_frame("popularity", 300)
    frame["Engagement_Score"] = 0.5
    write_csv(frame, tmp_path, "popularity")
    assert "constant" in _load_error(tmp_path, "popularity")


def test_too_few_rows_for_stratified_cv(tmp_path, make_frame):
    write_csv(make_frame("trends", 30), tmp_path, "trends")
    assert "too few" in _load_error(tmp_path)


def test_too_few_per_class(tmp_path, make_frame):
    frame = make_frame("popularity", 300)
    frame["Engagement_Score"] = 0.5
    frame.loc[:2, "Engagement_Score"] = 0.9  # 3 rows above the median, fewer than 5
    write_csv(frame, tmp_path, "popularity")
    message = _load_error(tmp_path, "popularity")
    assert "3 in class 1" in message and "5-fold" in message


def test_non_numeric_feature(tmp_path, make_frame):
    frame = make_frame("popularity", 300)
    frame["Likes"] = frame["Likes"].astype(object)
    frame.loc[4, "Likes"] = "many"
    write_csv(frame, tmp_path, "popularity")
    assert "'Likes' must be numeric" in _load_error(tmp_path, "popularity")


def test_missing_feature_values_warn(tmp_path, make_frame):
    frame = make_frame("popularity", 300)
    frame.loc[[1, 2, 3], "Style"] = np.nan
    write_csv(frame, tmp_path, "popularity")
    with pytest.warns(DataWarning, match="'Style' has 3 missing value"):
        load("popularity", tmp_path)


def test_command_line_prints_one_line_and_exits_2(tmp_path, capsys):
    status = replicate_main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written


def test_command_line_subprocess_exit_status(tmp_path, make_frame):
    frame = make_frame("trends", 300).drop(columns=["Region"])
    write_csv(frame, tmp_path, "trends")
    proc = subprocess.run(
        [sys.executable, "-m", "study.replicate", "--data-dir", str(tmp_path),
         "--out", str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "missing column(s) 'Region'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_frame_dtypes_after_validation(tmp_path, make_frame):
    write_csv(make_frame("popularity", 300), tmp_path, "popularity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        frame, _ = load("popularity", tmp_path)
    for col in (*get_spec("popularity").numeric, "Engagement_Score"):
        assert pd.api.types.is_float_dtype(frame[col])
