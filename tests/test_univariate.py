"""Tests of study.univariate: statistics against scipy/statsmodels, planted effects, BH."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from study.datasets import class_target, get_spec
from study.univariate import UNIVARIATE_COLUMNS, derived_date_variables, eta_squared, univariate
from tests.conftest import synthetic_frame

N_BOOT = 49


@pytest.fixture(scope="module")
def trends_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = synthetic_frame("trends", 300, seed=11)
    return frame, univariate(frame, get_spec("trends"), n_resamples=N_BOOT, random_state=0)


def _row(table, variable, test):
    return table[(table["variable"] == variable) & (table["test"] == test)].iloc[0]


def test_columns_and_variables(trends_table):
    _, table = trends_table
    assert list(table.columns) == UNIVARIATE_COLUMNS
    spec = get_spec("trends")
    assert set(table["variable"]) == {*spec.categorical, "Creation_Date", "Season", "Year"}
    assert set(table["target"]) == {"Popularity_Score", "Popularity_Score >= median"}
    assert (table["effect_ci_low"] <= table["effect_ci_high"]).all()


def test_anova_and_kruskal_match_scipy(trends_table):
    frame, table = trends_table
    y = frame["Popularity_Score"].to_numpy()
    groups = [y[frame["Medium"].to_numpy() == lvl] for lvl in sorted(frame["Medium"].unique())]
    row = _row(table, "Medium", "ANOVA")
    ref = stats.f_oneway(*groups)
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    grand = y.mean()
    between = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    assert row["effect"] == pytest.approx(between / ((y - grand) ** 2).sum())
    row = _row(table, "Medium", "Kruskal-Wallis")
    ref = stats.kruskal(*groups)
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    assert row["effect"] == pytest.approx(ref.statistic / (len(y) - 1))


def test_chi_square_against_class_target(trends_table):
    frame, table = trends_table
    labels = class_target(frame["Popularity_Score"].to_numpy(), ">=")
    ref = stats.chi2_contingency(pd.crosstab(frame["Region"], labels), correction=False)
    row = _row(table, "Region", "chi-square")
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    assert row["target"] == "Popularity_Score >= median"


def test_numeric_variables_popularity():
    frame = synthetic_frame("popularity", 250, seed=12)
    table = univariate(frame, get_spec("popularity"), n_resamples=0, random_state=1)
    row = _row(table, "Views", "Spearman")
    ref = stats.spearmanr(frame["Views"], frame["Engagement_Score"])
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert row["pvalue"] == pytest.approx(ref.pvalue)
    row = _row(table, "Likes", "Pearson")
    assert row["effect"] == pytest.approx(
        stats.pearsonr(frame["Likes"], frame["Engagement_Score"]).statistic)
    row = _row(table, "Price (USD)", "chi-square (deciles)")
    deciles = pd.qcut(frame["Price (USD)"], 10, labels=False)
    labels = class_target(frame["Engagement_Score"].to_numpy(), ">")
    ref = stats.chi2_contingency(pd.crosstab(deciles, labels), correction=False)
    assert row["statistic"] == pytest.approx(ref.statistic)
    assert table["effect_ci_low"].isna().all()  # n_resamples=0 skips intervals


def test_bh_within_target_and_test(trends_table):
    _, table = trends_table
    for test in ("ANOVA", "Kruskal-Wallis"):
        sub = table[(table["test"] == test)]
        np.testing.assert_allclose(sub["q_bh"], multipletests(sub["pvalue"], method="fdr_bh")[1])
    sub = table[table["target"] == "Popularity_Score >= median"]  # incl. decile-binned date
    np.testing.assert_allclose(sub["q_bh"], multipletests(sub["pvalue"], method="fdr_bh")[1])


def test_planted_effect_detected(trends_table):
    frame, plain = trends_table
    planted = frame.copy()
    planted.loc[planted["Art_Style"] == "Style3", "Popularity_Score"] += 2500
    table = univariate(planted, get_spec("trends"), n_resamples=N_BOOT, random_state=0)
    for test in ("ANOVA", "Kruskal-Wallis", "chi-square"):
        row = _row(table, "Art_Style", test)
        assert row["q_bh"] < 0.01
        assert row["effect"] > 2 * _row(plain, "Art_Style", test)["effect"]
        assert row["effect_ci_low"] > _row(plain, "Art_Style", test)["effect"]


def test_reproducible_with_seed():
    frame = synthetic_frame("popularity", 120, seed=13)
    spec = get_spec("popularity")
    a = univariate(frame, spec, n_resamples=N_BOOT, random_state=5)
    b = univariate(frame, spec, n_resamples=N_BOOT, random_state=np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)


def test_eta_squared_and_derived_dates():
    assert eta_squared([1.0, 1.0, 5.0, 5.0], ["a", "a", "b", "b"]) == pytest.approx(1.0)
    derived = derived_date_variables(pd.Series(["2023-01-15", "2023-07-01", "bad"]))
    assert list(derived["Season"].iloc[:2]) == ["winter", "summer"]
    assert list(derived["Year"].iloc[:2]) == ["2023", "2023"]
    assert derived.iloc[2].isna().all()


def test_validation_errors():
    frame = synthetic_frame("trends", 30)
    spec = get_spec("trends")
    with pytest.raises(ValueError, match="n_resamples"):
        univariate(frame, spec, n_resamples=-1, random_state=0)
    with pytest.raises(TypeError, match="random_state"):
        univariate(frame, spec, random_state="seed")
    with pytest.raises(ValueError, match="ci_method"):
        univariate(frame, spec, random_state=0, ci_method="normal")
    with pytest.raises(ValueError, match="confidence_level"):
        univariate(frame, spec, random_state=0, confidence_level=1.5)
    with pytest.raises(TypeError, match="spec"):
        univariate(frame, "trends", random_state=0)
    with pytest.raises(ValueError, match="Region"):
        univariate(frame.drop(columns="Region"), spec, random_state=0)
