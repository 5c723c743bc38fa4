"""Tests of study.forensics: statistics against scipy, planted structure, real-file facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from study.datasets import get_spec, load
from study.forensics import (
    ForensicsResult,
    cramers_v,
    epsilon_squared,
    forensics,
    identifier_template,
    kruskal_h,
    summary_text,
    write_forensics,
)
from tests.conftest import synthetic_frame


@pytest.fixture(scope="module")
def popularity_result() -> tuple[pd.DataFrame, ForensicsResult]:
    frame = synthetic_frame("popularity", 300, seed=1)
    return frame, forensics(frame, get_spec("popularity"))


def test_kruskal_h_matches_scipy():
    rng = np.random.default_rng(0)
    y = np.round(rng.normal(size=200), 1)  # ties
    g = rng.choice(list("abcd"), size=200)
    h, dof = kruskal_h(y, g)
    ref = stats.kruskal(*[y[g == lvl] for lvl in "abcd"])
    assert h == pytest.approx(ref.statistic, rel=1e-10)
    assert dof == 3
    assert epsilon_squared(h, 200) == pytest.approx(h / 199)


def test_cramers_v_perfect_and_against_scipy():
    a = np.repeat(["x", "y", "z"], 20)
    b = np.repeat(["p", "q", "r"], 20)
    assert cramers_v(a, b) == pytest.approx(1.0)
    rng = np.random.default_rng(3)
    a, b = rng.choice(list("abc"), 500), rng.choice(list("uvwx"), 500)
    table = pd.crosstab(a, b).to_numpy()
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    assert cramers_v(a, b) == pytest.approx(np.sqrt(chi2 / (500 * 2)))
    assert cramers_v(a, b) == pytest.approx(
        stats.contingency.association(table, method="cramer"))
    with pytest.raises(ValueError, match="same length"):
        cramers_v(a, b[:-1])


def test_marginals_match_scipy(popularity_result):
    frame, result = popularity_result
    m = result.marginals
    assert list(m.columns) == ["dataset", "column", "kind", "test", "statistic", "pvalue", "n",
                               "detail"]
    row = m[(m["column"] == "Views") & m["test"].str.startswith("KS")].iloc[0]
    x = frame["Views"].to_numpy(dtype=float)
    ref = stats.kstest(x, "uniform", args=(x.min(), x.max() - x.min()))
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    assert "estimated" in row["detail"]
    row = m[m["column"] == "Style"].iloc[0]
    ref = stats.chisquare(frame["Style"].value_counts().to_numpy())
    assert row["statistic"] == pytest.approx(ref.statistic)
    # the 2-decimal score lies on a grid, so it also gets discrete-uniform tests
    assert (m["column"] == "Engagement_Score").sum() == 3


def test_date_marginal_uses_day_numbers():
    frame = synthetic_frame("trends", 300, seed=2)
    result = forensics(frame, get_spec("trends"))
    row = result.marginals[(result.marginals["column"] == "Creation_Date")
                           & result.marginals["test"].str.startswith("KS")].iloc[0]
    days = (pd.to_datetime(frame["Creation_Date"]) - pd.Timestamp("1970-01-01")).dt.days
    days = days.to_numpy(dtype=float)
    ref = stats.kstest(days, "uniform", args=(days.min(), days.max() - days.min()))
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["kind"] == "date"


def test_pairwise_statistics_and_bh(popularity_result):
    frame, result = popularity_result
    p = result.pairwise
    n_cols = len(get_spec("popularity").features) + 1
    assert len(p) == n_cols * (n_cols - 1) // 2
    row = p[(p["column_a"] == "Views") & (p["column_b"] == "Likes")].iloc[0]
    assert row["effect"] == pytest.approx(stats.spearmanr(frame["Views"], frame["Likes"])[0])
    row = p[(p["column_a"] == "Platform") & (p["column_b"] == "Views")].iloc[0]
    ref = stats.kruskal(*[g["Views"].to_numpy() for _, g in frame.groupby("Platform")])
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    row = p[(p["column_a"] == "Platform") & (p["column_b"] == "Style")].iloc[0]
    ref = stats.chi2_contingency(pd.crosstab(frame["Platform"], frame["Style"]),
                                 correction=False)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    expected = multipletests(p["pvalue"], method="fdr_bh")[1]
    np.testing.assert_allclose(p["q_bh"], expected)


def test_planted_dependence_is_detected():
    frame = synthetic_frame("trends", 600, seed=4)
    plain = forensics(frame, get_spec("trends")).pairwise
    planted = frame.copy()
    hit = planted["Art_Style"] == "Style0"
    planted.loc[hit, "Popularity_Score"] += 3000
    result = forensics(planted, get_spec("trends"))
    pick = (result.pairwise["column_a"] == "Art_Style") & (
        result.pairwise["column_b"] == "Popularity_Score")
    row = result.pairwise[pick].iloc[0]
    assert row["q_bh"] < 1e-6
    assert row["effect"] > 5 * plain[pick]["effect"].iloc[0]
    assert result.min_pairwise_q == pytest.approx(row["q_bh"])


def test_impossible_records_on_constructed_frame():
    frame = synthetic_frame("popularity", 50, seed=5)
    frame["Views"] = 1000
    frame["Likes"] = 10
    frame["Shares"] = 10
    frame["Comments"] = 10
    frame.loc[[3, 7, 11], "Likes"] = 5000
    frame.loc[[7], "Shares"] = 1001
    result = forensics(frame, get_spec("popularity"))
    imp = result.impossible.set_index("check")
    assert imp.loc["Likes > Views", "count"] == 3
    assert imp.loc["Likes > Views", "fraction"] == pytest.approx(3 / 50)
    assert imp.loc["Likes > Views", "first_rows"] == "3, 7, 11"
    assert imp.loc["Shares > Views", "count"] == 1
    assert imp.loc["Comments > Views", "count"] == 0
    assert "Likes > Views" in summary_text(result)


def test_constants_and_templates():
    frame = synthetic_frame("trends", 100, seed=6)
    frame.loc[5, "Image_URL"] = "https://elsewhere.org/x.png"
    result = forensics(frame, get_spec("trends"))
    assert list(result.constants["column"]) == ["Description"]
    t = result.templates.set_index("column")
    assert t.loc["Artwork_ID", "template"] == r"^ART\-\d{5}$"
    assert t.loc["Artwork_ID", "share_matching"] == 1.0
    assert t.loc["Artwork_ID", "share_number_is_row"] == 1.0
    assert t.loc["Image_URL", "share_matching"] == pytest.approx(0.99)
    assert identifier_template("ART_12") == r"^ART_\d{2}$"


def test_summary_and_write(tmp_path, popularity_result):
    _, result = popularity_result
    text = summary_text(result)
    assert "not proof" in text or "fingerprint" in text
    written = write_forensics(result, tmp_path, formats=("csv",))
    assert len(written) == 5 and all(p.exists() for p in written)
    with pytest.raises(ValueError, match="alpha"):
        summary_text(result, alpha=2)


def test_validation_errors():
    frame = synthetic_frame("trends", 20)
    with pytest.raises(TypeError, match="spec"):
        forensics(frame, "trends")
    with pytest.raises(TypeError, match="frame"):
        forensics(frame.to_numpy(), get_spec("trends"))
    with pytest.raises(ValueError, match="Medium"):
        forensics(frame.drop(columns="Medium"), get_spec("trends"))


@pytest.mark.realdata
def test_real_files_facts(real_data_dir):
    trends, _ = load("trends", real_data_dir)
    popularity, _ = load("popularity", real_data_dir)
    rt = forensics(trends, get_spec("trends"))
    rp = forensics(popularity, get_spec("popularity"))
    assert list(rt.constants["column"]) == ["Description"]
    t = rt.templates.set_index("column")
    assert (t["share_matching"] == 1.0).all() and (t["n_unique"] == len(trends)).all()
    assert rp.templates["share_matching"].iloc[0] == 1.0
    frac = rp.impossible.set_index("check").loc["Likes > Views", "fraction"]
    assert 0.08 < frac < 0.12  # SOURCES.md: "about 10% of rows"
    p = rp.pairwise
    engagement = p[(p["column_b"] == "Engagement_Score") & (p["effect_name"] == "spearman_rho")]
    assert len(engagement) == 5 and (engagement["effect"].abs() < 0.03).all()
    assert isinstance(summary_text(rt), str) and isinstance(summary_text(rp), str)
