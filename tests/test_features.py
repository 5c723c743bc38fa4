"""Fold-safe feature engineering and the column audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from study.datasets import get_spec
from study.features import (
    DateFeatures,
    FrequencyEncoder,
    MetadataFeatures,
    audit_columns,
    feature_columns,
    make_preprocessor,
)
from study.replicate import original_features


def test_date_features_match_the_original_definitions():
    dates = pd.DataFrame({"Creation_Date": ["2022-12-31", "2023-03-01", "2024-07-15",
                                            "2023-10-02", "garbage"]})
    out = DateFeatures().fit_transform(dates)
    assert out["Year"].tolist()[:4] == [2022, 2023, 2024, 2023]
    assert out["is_recent"].tolist() == [0, 1, 1, 1, 0]
    assert out["Season"].tolist()[:4] == ["Winter", "Spring", "Summer", "Fall"]
    assert pd.isna(out["Season"].iloc[4]) and np.isnan(out["Month"].iloc[4])
    np.testing.assert_allclose(out["month_sin"].iloc[:4], np.sin(2 * np.pi * np.array(
        [12, 3, 7, 10]) / 12))


def test_engineered_features_equal_the_originals_when_fitted_on_everything(make_frame):
    """On the full table, our transformers reproduce the original's columns exactly."""
    frame = make_frame("trends", 500, seed=3)
    ours = MetadataFeatures(get_spec("trends")).fit_transform(frame)
    theirs = original_features(frame)
    numeric, categorical = feature_columns(get_spec("trends"))
    for col in numeric:
        np.testing.assert_allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float),
                                   err_msg=col)
    for col in categorical:
        assert ours[col].tolist() == theirs[col].tolist(), col


def test_frequency_counts_ignore_the_test_fold(make_frame):
    """Counts learned on a training fold do not change when the test fold's rows change."""
    frame = make_frame("trends", 600, seed=1)
    train, test = frame.iloc[:480], frame.iloc[480:].copy()
    enc = FrequencyEncoder(get_spec("trends").frequency_columns).fit(train)
    before = {c: s.copy() for c, s in enc.counts_.items()}
    train_out = enc.transform(train)
    # the test fold becomes one repeated category: a full-table count would jump
    test["Art_Style"] = "Style0"
    enc_again = FrequencyEncoder(get_spec("trends").frequency_columns).fit(train)
    for c in before:
        pd.testing.assert_series_equal(enc_again.counts_[c], before[c])
    pd.testing.assert_frame_equal(enc_again.transform(train), train_out)
    # and the test rows are encoded with the training counts
    assert (enc.transform(test)["Art_Style_freq"] == before["Art_Style"]["Style0"]).all()
    # contrast: the original's full-table count of that category includes the test rows
    full = original_features(pd.concat([train, test]))
    assert full.loc[full["Art_Style"] == "Style0", "Art_Style_freq"].iloc[0] == (
        before["Art_Style"]["Style0"] + len(test))


def test_unseen_category_is_rare_with_zero_frequency():
    enc = FrequencyEncoder(["c"], rare_threshold=1).fit(pd.DataFrame({"c": ["a", "a", "b"]}))
    out = enc.transform(pd.DataFrame({"c": ["a", "b", "z"]}))
    assert out["c_freq"].tolist() == [2.0, 1.0, 0.0]
    assert out["c_is_rare"].tolist() == [0, 1, 1]


def test_preprocessor_dense_and_sparse_agree(make_frame):
    spec = get_spec("trends")
    frame = make_frame("trends", 300)
    dense = make_preprocessor(spec, dense=True).fit_transform(frame)
    sparse = make_preprocessor(spec).fit_transform(frame)
    assert isinstance(dense, np.ndarray) and dense.dtype == np.float64
    np.testing.assert_array_equal(dense, sparse.toarray())
    assert not np.isnan(dense).any()


def test_preprocessor_never_sees_identifiers(make_frame):
    spec = get_spec("trends")
    frame = make_frame("trends", 300)
    out = make_preprocessor(spec, dense=True).fit(frame)
    names = out.named_steps["encode"].get_feature_names_out()
    assert not any("Image_URL" in n or "Artwork_ID" in n or "Description" in n for n in names)


@pytest.mark.parametrize("name", ["trends", "popularity"])
def test_audit_names_identifiers_and_constants(make_frame, name):
    spec = get_spec(name)
    audits = {a.column: a for a in audit_columns(make_frame(name, 300), spec)}
    for col in spec.identifiers:
        assert audits[col].role == "identifier" and "unique per row" in audits[col].reason
    for col in spec.constants:
        assert audits[col].role == "constant"
    assert audits[spec.target].role == "target"


def test_audit_on_the_real_trends_file(real_data_dir):
    from study.datasets import load

    frame, _ = load("trends", real_data_dir)
    roles = {a.column: a.role for a in audit_columns(frame, get_spec("trends"))}
    assert roles["Artwork_ID"] == roles["Image_URL"] == "identifier"
    assert roles["Description"] == "constant"
    assert all(roles[c] == "feature" for c in get_spec("trends").features)
