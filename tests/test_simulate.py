"""The simulator: exact schemas, H0 independence, planted effects and their population values."""

from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import r2_score, roc_auc_score

from study import simulate as sim
from study.datasets import DATASETS, class_target, get_spec, load, validate_frame
from study.errors import DataWarning

NAMES = tuple(DATASETS)
CASES = [("trends", "category"), ("popularity", "ratio"), ("popularity", "category")]
_TARGET_RANGE = {"trends": (50.0, 5000.0), "popularity": (0.1, 1.0)}


def _strict_validate(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validated, issued = validate_frame(frame, get_spec(name))
    assert issued == ()
    return validated


def _grid_probabilities(lo: float, hi: float) -> np.ndarray:
    """P(y = value j) for y = round(Uniform(lo, hi), 2): the end values have half weight."""
    k = round((hi - lo) * 100)
    probs = np.full(k + 1, 1.0 / k)
    probs[[0, -1]] = 0.5 / k
    return probs


def _oracle_fit(frame: pd.DataFrame, name: str, kind: str) -> np.ndarray:
    """Group means of the target: by level, or by 200 quantile bins of Likes / Views."""
    spec = get_spec(name)
    if kind == "category":
        groups = frame[sim.EFFECT_KINDS[name][kind][0]]
    else:
        groups = pd.qcut(frame["Likes"] / frame["Views"], 200, labels=False)
    return frame.groupby(groups)[spec.target].transform("mean").to_numpy()


# ----------------------------------------------------------------------------------------
# Schema


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_the_specs_and_validates(name):
    spec = get_spec(name)
    frame = sim.simulate(name, random_state=0)
    assert list(frame.columns) == list(spec.columns)
    assert len(frame) == spec.n_rows and isinstance(frame.index, pd.RangeIndex)
    for col in spec.columns:
        if col == spec.target or col in spec.numeric:
            assert frame[col].dtype == np.float64, col
        else:
            assert isinstance(frame[col].dtype, pd.StringDtype), col
    assert frame.notna().all().all()
    validated = _strict_validate(frame, name)
    pd.testing.assert_frame_equal(validated, frame, check_exact=True)
    for col in spec.identifiers:
        assert frame[col].is_unique
    for col in spec.constants:
        assert frame[col].nunique() == 1


def test_values_follow_the_real_templates():
    trends = sim.simulate("trends", n=120, random_state=1)
    assert trends["Artwork_ID"].iloc[[0, -1]].tolist() == ["ART-00001", "ART-00120"]
    assert trends["Image_URL"].iloc[0] == "https://example.com/artwork/00001.jpg"
    assert (trends["Description"] == sim.DESCRIPTION).all()
    dates = pd.to_datetime(trends["Creation_Date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2022-09-04") and dates.max() <= pd.Timestamp("2024-09-02")
    pop = sim.simulate("popularity", n=120, random_state=1)
    assert pop["Artwork_ID"].iloc[[0, -1]].tolist() == ["ART_1", "ART_120"]
    for col in ("Views", "Likes", "Shares", "Comments"):
        assert (pop[col] == np.round(pop[col])).all()
    assert (np.round(pop["Engagement_Score"] * 100) / 100 == pop["Engagement_Score"]).all()
    for name, frame in (("trends", trends), ("popularity", pop)):
        lo, hi = _TARGET_RANGE[name]
        y = frame[get_spec(name).target]
        assert y.between(lo, hi).all()
        for col, counts in sim.LEVEL_COUNTS[name].items():
            assert set(frame[col]) <= set(counts)


def test_small_tables_validate():
    for name in NAMES:
        _strict_validate(sim.simulate(name, n=60, effect=0.2, random_state=3), name)


@pytest.mark.realdata
@pytest.mark.parametrize("name", NAMES)
def test_schema_and_constants_match_the_real_file(real_data_dir, name):
    spec = get_spec(name)
    raw = pd.read_csv(real_data_dir / spec.filename, low_memory=False)
    real, _ = validate_frame(raw, spec)
    frame = sim.simulate(name, random_state=2)
    assert list(frame.columns) == list(real.columns)
    assert frame.dtypes.to_dict() == real.dtypes.to_dict()
    for col in spec.identifiers:  # same templates, in row order
        assert frame[col].tolist() == real[col].tolist()
    for col in spec.constants:
        assert frame[col].unique().tolist() == real[col].unique().tolist()
    for col, counts in sim.LEVEL_COUNTS[name].items():
        assert real[col].value_counts().to_dict() == counts
    y_real = real[spec.target]
    lo, hi = _TARGET_RANGE[name]
    assert lo <= y_real.min() and y_real.max() <= hi
    if name == "trends":
        dates = pd.to_datetime(real["Creation_Date"])
        assert (dates.min(), dates.max()) == (pd.Timestamp("2022-09-04"),
                                              pd.Timestamp("2024-09-02"))
    else:
        grid = np.round(np.arange(10, 101) / 100, 2)
        assert np.array_equal(np.unique(y_real), grid)
        assert np.array_equal(np.unique(frame[spec.target]), grid)


# ----------------------------------------------------------------------------------------
# Reproducibility


def test_same_seed_same_frame_and_no_global_rng():
    # the legacy global generator is used on purpose: the simulator must neither read it nor
    # advance it
    saved = np.random.get_state()  # noqa: NPY002
    try:
        for name in NAMES:
            np.random.seed(123)  # noqa: NPY002
            first = sim.simulate(name, n=500, effect=0.1, random_state=42)
            state = np.random.get_state()[1].copy()  # noqa: NPY002
            np.random.seed(999)  # noqa: NPY002
            second = sim.simulate(name, n=500, effect=0.1, random_state=42)
            pd.testing.assert_frame_equal(first, second, check_exact=True)
            np.random.seed(123)  # noqa: NPY002
            sim.simulate(name, n=500, random_state=42)
            assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
            other = sim.simulate(name, n=500, effect=0.1, random_state=43)
            assert not other[get_spec(name).target].equals(first[get_spec(name).target])
    finally:
        np.random.set_state(saved)  # noqa: NPY002


def test_seed_sequences_are_not_consumed_and_generators_are():
    seq = np.random.SeedSequence(7, spawn_key=(3,))
    a = sim.simulate("popularity", n=200, random_state=seq)
    b = sim.simulate("popularity", n=200, random_state=seq)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    rng = np.random.default_rng(7)
    c = sim.simulate("popularity", n=200, random_state=rng)
    d = sim.simulate("popularity", n=200, random_state=rng)
    assert not c["Views"].equals(d["Views"])
    with pytest.raises(TypeError, match="seed is required"):
        sim.simulate("popularity", random_state=None)


def test_features_do_not_depend_on_the_effect():
    for name, kind in CASES:
        target = get_spec(name).target
        null = sim.simulate(name, n=2000, random_state=5)
        planted = sim.simulate(name, n=2000, effect=0.3, effect_kind=kind, random_state=5)
        pd.testing.assert_frame_equal(null.drop(columns=target), planted.drop(columns=target),
                                      check_exact=True)
        assert stats.spearmanr(null[target], planted[target])[0] > 0.5  # same noise


# ----------------------------------------------------------------------------------------
# H0


def test_h0_target_has_no_association():
    rho_n, anova_p = [], []
    for seed in range(8):
        for name in NAMES:
            spec = get_spec(name)
            frame = sim.simulate(name, random_state=seed)
            y = frame[spec.target].to_numpy()
            numeric = [frame[c].to_numpy() for c in spec.numeric]
            if name == "trends":
                numeric.append(pd.to_datetime(frame["Creation_Date"]).to_numpy().astype(float))
            for x in numeric:
                rho = stats.spearmanr(x, y)[0]
                assert abs(rho) < 4.5 / math.sqrt(len(y))
                rho_n.append(len(y) * rho**2)
            for col in sim.LEVEL_COUNTS[name]:
                groups = [g.to_numpy() for _, g in frame.groupby(col)[spec.target]]
                anova_p.append(stats.f_oneway(*groups).pvalue)
    # n * rho^2 is about chi-square(1) and the p-values about uniform under H0
    assert 0.5 < np.mean(rho_n) < 1.6
    assert 0.35 < np.mean(anova_p) < 0.65
    assert np.mean(np.array(anova_p) < 0.05) < 0.15
    for name in NAMES:
        assert sim.population_r2(name, 0.0) == 0.0
        assert sim.population_auc(name, 0.0) == 0.5


@pytest.mark.parametrize("effect", [0.0, 0.5])
def test_target_keeps_its_marginal(effect):
    n = 100_000
    trends = sim.simulate("trends", n=n, effect=effect, random_state=11)["Popularity_Score"]
    assert stats.kstest(trends, "uniform", args=(50.0, 4950.0)).pvalue > 0.001
    pop = sim.simulate("popularity", n=n, effect=effect, random_state=11)["Engagement_Score"]
    counts = np.bincount(np.round(pop.to_numpy() * 100).astype(int) - 10, minlength=91)
    assert counts.size == 91
    assert stats.chisquare(counts, _grid_probabilities(0.1, 1.0) * n).pvalue > 0.001


# ----------------------------------------------------------------------------------------
# Planted effects and population values


@pytest.mark.parametrize(("name", "kind"), CASES)
@pytest.mark.parametrize("effect", [0.05, 0.3])
def test_oracle_reaches_the_population_values(name, kind, effect):
    n = 150_000
    spec = get_spec(name)
    frame = sim.simulate(name, n=n, effect=effect, effect_kind=kind, random_state=17)
    y = frame[spec.target].to_numpy()
    r2 = sim.population_r2(name, effect, effect_kind=kind)
    assert r2 == pytest.approx(effect, abs=1e-9)
    # sampling SE of a sample R2 is about 2 sqrt(R2) (1 - R2) / sqrt(n)
    tol = 4 * 2 * math.sqrt(effect) * (1 - effect) / math.sqrt(n) + 0.001
    assert r2_score(y, _oracle_fit(frame, name, kind)) == pytest.approx(r2, abs=tol)
    oracle = sim.conditional_mean(name, frame, effect=effect, effect_kind=kind)
    assert r2_score(y, oracle) == pytest.approx(r2, abs=tol)
    labels = class_target(y, spec.task("classification").threshold_rule)
    auc = sim.population_auc(name, effect, effect_kind=kind)
    assert roc_auc_score(labels, oracle) == pytest.approx(auc, abs=0.006)


def test_population_values_are_monotone_and_bounded():
    effects = [0.0, 0.01, 0.1, 0.3, 0.6, 0.9]
    for name, kind in CASES:
        r2 = [sim.population_r2(name, e, effect_kind=kind) for e in effects]
        assert np.allclose(r2, effects, atol=1e-9)
        auc = [sim.population_auc(name, e, effect_kind=kind) for e in effects]
        assert auc[0] == 0.5 and np.all(np.diff(auc) > 0) and auc[-1] < 1
    levels = np.array(list(sim.LEVEL_COUNTS["trends"]["Art_Style"].values()), dtype=float)
    p = levels / levels.sum()
    assert sim.max_effect("trends") == pytest.approx(1 - np.sum(p**3), abs=1e-6)
    assert sim.max_effect("popularity", "ratio") > 0.9999
    with pytest.raises(ValueError, match="out of reach"):
        sim.simulate("trends", effect=0.995, random_state=0)
    with pytest.raises(ValueError, match="0 <= effect < 1"):
        sim.population_r2("trends", -0.1)
    with pytest.raises(ValueError, match="effect_kind='ratio' is not available"):
        sim.simulate("trends", effect=0.1, effect_kind="ratio", random_state=0)
    with pytest.raises(ValueError, match="dataset='nope'"):
        sim.simulate("nope", random_state=0)


def test_ratio_effect_matches_the_closed_form():
    # on the continuous scale R2 = (6 / pi) asin(a^2 / 2); the 0.01 grid changes it by < 1e-3
    a = sim._loading("popularity", "ratio", 0.25)
    assert 6 / math.pi * math.asin(a * a / 2) == pytest.approx(0.25, abs=1e-3)
    # the latent score of the ratio is standard normal (population rank of Likes / Views)
    frame = sim.simulate("popularity", n=50_000, random_state=4)
    s = sim._ratio_score(frame["Likes"].to_numpy(), frame["Views"].to_numpy())
    assert stats.kstest(s, "norm").pvalue > 0.001


# ----------------------------------------------------------------------------------------
# Marginals against the real files


@pytest.mark.realdata
@pytest.mark.parametrize("name", NAMES)
def test_marginals_match_the_real_file(real_data_dir, name):
    spec = get_spec(name)
    real = pd.read_csv(real_data_dir / spec.filename, low_memory=False)
    # 10x the real rows, so that the two-sample tests measure the real file's departure
    frame = sim.simulate(name, n=10 * spec.n_rows, random_state=2024)
    numeric = [*spec.numeric, spec.target]
    for col in numeric:
        assert stats.ks_2samp(frame[col], real[col]).pvalue > 0.001, col
    for col in spec.dates:
        days = [pd.to_datetime(f[col]).to_numpy().astype("datetime64[D]").astype(float)
                for f in (frame, real)]
        assert stats.ks_2samp(*days).pvalue > 0.001, col
    for col in sim.LEVEL_COUNTS[name]:
        table = pd.crosstab(pd.concat([frame[col], real[col]], ignore_index=True),
                            np.repeat(["sim", "real"], [len(frame), len(real)]))
        assert table.shape[0] == real[col].nunique()
        assert stats.chi2_contingency(table.to_numpy())[1] > 0.001, col
    if name == "popularity":
        share = [float((f["Likes"] > f["Views"]).mean()) for f in (frame, real)]
        assert share[0] == pytest.approx(share[1], abs=0.02)
        assert share[0] == pytest.approx(0.10, abs=0.01)


# ----------------------------------------------------------------------------------------
# Demo data


def test_write_demo_data_round_trips_through_the_loader(tmp_path):
    directory = tmp_path / "demo" / "data"
    written = sim.write_demo_data(directory, random_state=8)
    assert set(written) == set(NAMES)
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        get_spec(n).filename for n in NAMES)  # no temporary files left
    for name, path in written.items():
        spec = get_spec(name)
        assert path == directory / spec.filename
        raw = pd.read_csv(path)
        for col in spec.numeric:
            expected = np.float64 if col == "Price (USD)" else np.int64
            assert raw[col].dtype == expected, col
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # the sha256 differs from the release
            loaded, provenance = load(name, directory)
        assert not provenance.matches_release
        seed = np.random.SeedSequence(8, spawn_key=(zlib.crc32(f"demo:{name}".encode()),))
        pd.testing.assert_frame_equal(loaded, sim.simulate(name, random_state=seed))
    first = {n: p.read_bytes() for n, p in written.items()}
    again = sim.write_demo_data(directory, random_state=8)
    assert {n: p.read_bytes() for n, p in again.items()} == first


def test_write_demo_data_is_atomic(tmp_path, monkeypatch):
    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(sim.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        sim.write_demo_data(tmp_path, random_state=np.random.SeedSequence(1))
    assert list(tmp_path.iterdir()) == []
