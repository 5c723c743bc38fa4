"""The original EDA step done formally: each metadata variable against popularity, one at a time.

The original author claimed, from an informal EDA, that no individual metadata variable has a
significant effect on popularity. :func:`univariate` tests that claim variable by variable:

- **regression target**, categorical variable: one-way ANOVA (``statsmodels`` OLS +
  ``anova_lm``) with eta squared, and Kruskal-Wallis (Kruskal & Wallis 1952) with epsilon
  squared (Tomczak & Tomczak 2014);
- **regression target**, numeric variable: Spearman's rho and Pearson's r;
- **class target** (``target >= median`` or ``> median``, the spec's rule): Pearson chi-square
  of independence with Cramér's V (Cramér 1946); numeric variables are first binned into
  deciles (``pandas.qcut``, duplicate edges merged).

For the trends table the creation date also yields ``Season`` (meteorological, northern
hemisphere: DJF winter, MAM spring, JJA summer, SON autumn) and ``Year`` (both categorical),
and ``Creation_Date`` itself enters as a numeric day number.

Effect sizes get bootstrap percentile (or BCa) intervals from :func:`scipy.stats.bootstrap`,
resampling rows (pairs) with a :class:`numpy.random.Generator` seeded from ``random_state``.
q-values are Benjamini-Hochberg (1995) across variables within each
``(dataset, target, test)`` family.

References
----------
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57(1),
289-300.

Cramér, H. (1946). *Mathematical Methods of Statistics*. Princeton University Press.

Kruskal, W. H. and Wallis, W. A. (1952). Use of ranks in one-criterion variance analysis.
*JASA* 47(260), 583-621.

Tomczak, M. and Tomczak, E. (2014). The need to report effect size estimates revisited.
*Trends in Sport Sciences* 1(21), 19-25.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

from study.datasets import DatasetSpec, class_target
from study.forensics import _bh, _chi2_from_codes, _codes, epsilon_squared, kruskal_h

__all__ = ["UNIVARIATE_COLUMNS", "derived_date_variables", "eta_squared", "univariate"]

UNIVARIATE_COLUMNS = ["dataset", "variable", "target", "test", "statistic", "pvalue", "q_bh",
                      "effect", "effect_name", "effect_ci_low", "effect_ci_high", "n"]

_SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
            6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}


def eta_squared(values, groups) -> float:
    """Eta squared of a one-way layout: between-group over total sum of squares.

    Parameters
    ----------
    values : array-like of float
    groups : array-like
        Group labels, paired with ``values``.

    Returns
    -------
    float
        :math:`\\eta^2 = SS_\\text{between} / SS_\\text{total}` in [0, 1].
    """
    y = np.asarray(values, dtype=float)
    g, k = _codes(groups)
    counts = np.bincount(g, minlength=k).astype(float)
    sums = np.bincount(g, weights=y, minlength=k)
    present = counts > 0
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return float("nan")
    between = float(np.sum(sums[present] ** 2 / counts[present]) - y.sum() ** 2 / y.size)
    return between / total


def derived_date_variables(dates: pd.Series) -> pd.DataFrame:
    """``Season`` and ``Year`` (as text) of a date column; unparsable dates become missing."""
    parsed = pd.to_datetime(dates, errors="coerce")
    season = parsed.dt.month.map(_SEASONS)
    year = parsed.dt.year.astype("Int64").astype("string")
    return pd.DataFrame({"Season": season.astype("string"), "Year": year})


def _check_random_state(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative; got {random_state}")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.default_rng(random_state)
    raise TypeError("random_state must be an int, a SeedSequence or a numpy Generator; got "
                    f"{type(random_state).__name__}")


def _ci(data: tuple[np.ndarray, ...], statistic: Callable[..., float], *, n_resamples: int,
        method: str, rng: np.random.Generator,
        confidence_level: float) -> tuple[float, float]:
    if n_resamples == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        # degenerate resamples (e.g. a single level) give NaN; BCa may warn about them
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(data, statistic, n_resamples=n_resamples, paired=True,
                              vectorized=False, method=method, rng=rng,
                              confidence_level=confidence_level)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _anova(y: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """One-way ANOVA F and p via statsmodels OLS + anova_lm (type I, one factor)."""
    data = pd.DataFrame({"y": y, "g": pd.Series(g, dtype=str)})
    fit = smf.ols("y ~ C(g)", data=data).fit()
    table = anova_lm(fit)
    return float(table.loc["C(g)", "F"]), float(table.loc["C(g)", "PR(>F)"])


def _variables(frame: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, dict[str, str]]:
    """The metadata variables of the dataset, with their kinds."""
    cols: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for col in spec.categorical:
        cols[col] = frame[col].astype("string")
        kinds[col] = "categorical"
    for col in spec.numeric:
        cols[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        kinds[col] = "numeric"
    for col in spec.dates:
        parsed = pd.to_datetime(frame[col], errors="coerce")
        cols[col] = ((parsed - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).astype(float)
        kinds[col] = "numeric"
        for name, series in derived_date_variables(frame[col]).items():
            cols[name] = series
            kinds[name] = "categorical"
    return pd.DataFrame(cols, index=frame.index), kinds


def univariate(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    n_resamples: int = 999,
    random_state: int | np.random.Generator | np.random.SeedSequence,
    ci_method: str = "percentile",
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Test every metadata variable of a dataset against the regression and class targets.

    Parameters
    ----------
    frame : DataFrame
        The validated table (:func:`study.datasets.load`).
    spec : DatasetSpec
        Its specification; ``spec.target`` is the regression target and the classification
        task's ``threshold_rule`` defines the class target (:func:`study.datasets.class_target`).
    n_resamples : int, default 999
        Bootstrap resamples for the effect-size intervals; 0 skips the intervals (NaN).
    random_state : int, SeedSequence or numpy Generator
        Seed of the bootstrap; each variable and test draws from its own child generator, so
        results do not depend on which other rows are computed. No global RNG is used.
    ci_method : {"percentile", "BCa", "basic"}, default "percentile"
        Passed to :func:`scipy.stats.bootstrap`. BCa costs one jackknife pass (n extra
        evaluations) per interval. Percentile intervals of non-negative effects (eta and
        epsilon squared, V) are biased upwards near zero and may not cover the point estimate.
    confidence_level : float, default 0.95

    Returns
    -------
    DataFrame
        One row per (variable, target, test), columns :data:`UNIVARIATE_COLUMNS`:
        ``dataset, variable, target, test, statistic, pvalue, q_bh, effect, effect_name,
        effect_ci_low, effect_ci_high, n``. Tests: ``ANOVA`` (F, eta squared),
        ``Kruskal-Wallis`` (H, epsilon squared), ``Spearman`` / ``Pearson`` (rho / r), and
        ``chi-square`` (chi2, Cramér's V) against the class target, where numeric variables
        are binned into deciles. ``q_bh`` is Benjamini-Hochberg across variables within each
        ``(dataset, target, test)`` (categorical and decile-binned chi-square tests form one
        family). Rows with a missing variable are dropped for that
        variable only (``n`` says how many remain).

    Raises
    ------
    TypeError
        If ``frame``, ``spec`` or ``random_state`` has the wrong type.
    ValueError
        If ``n_resamples`` is negative, ``ci_method`` unknown, ``confidence_level`` outside
        (0, 1), or ``frame`` lacks a column of ``spec``.

    Notes
    -----
    The ANOVA F statistic is cross-checked against :func:`scipy.stats.f_oneway` (a mismatch
    raises ``RuntimeError``). See the module docstring for references.
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"spec must be a DatasetSpec; got {type(spec).__name__}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in (*spec.features, spec.target) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing} of dataset {spec.name!r}")
    if (not isinstance(n_resamples, numbers.Integral) or isinstance(n_resamples, bool)
            or n_resamples < 0):
        raise ValueError(f"n_resamples must be a non-negative integer; got {n_resamples!r}")
    if ci_method not in ("percentile", "BCa", "basic"):
        raise ValueError(f"ci_method={ci_method!r}; expected 'percentile', 'BCa' or 'basic'")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1); got {confidence_level!r}")
    rng = _check_random_state(random_state)

    frame = frame.reset_index(drop=True)
    y_all = pd.to_numeric(frame[spec.target], errors="coerce").to_numpy(dtype=float)
    rule = next((t.threshold_rule for t in spec.tasks if t.threshold_rule), ">=")
    finite = np.isfinite(y_all)
    labels_all = np.full(y_all.shape, -1, dtype=np.int64)
    labels_all[finite] = class_target(y_all[finite], rule)
    class_name = f"{spec.target} {rule} median"
    variables, kinds = _variables(frame, spec)
    boot = dict(n_resamples=int(n_resamples), method=ci_method,
                confidence_level=confidence_level)

    rows: list[dict] = []

    def add(variable, target, test, statistic, pvalue, effect, effect_name, ci, n):
        rows.append({"dataset": spec.name, "variable": variable, "target": target, "test": test,
                     "statistic": statistic, "pvalue": pvalue, "effect": effect,
                     "effect_name": effect_name, "effect_ci_low": ci[0], "effect_ci_high": ci[1],
                     "n": n})

    for name, series in variables.items():
        keep = series.notna().to_numpy() & finite
        n = int(keep.sum())
        y = y_all[keep]
        labels = labels_all[keep]
        children = rng.spawn(4)
        if kinds[name] == "categorical":
            g = series.to_numpy(dtype=object)[keep].astype(str)
            codes, k = _codes(g)
            if k < 2 or n < 3:
                continue
            f_sm, p_sm = _anova(y, g)
            f_sp = stats.f_oneway(*[y[codes == j] for j in range(k)])
            if not np.isclose(f_sm, f_sp.statistic, rtol=1e-6, atol=1e-9):
                raise RuntimeError(f"ANOVA F of {name}: statsmodels {f_sm} != scipy "
                                   f"{f_sp.statistic}")
            add(name, spec.target, "ANOVA", f_sm, p_sm, eta_squared(y, codes), "eta_squared",
                _ci((y, codes), eta_squared, rng=children[0], **boot), n)
            h, dof = kruskal_h(y, codes)
            add(name, spec.target, "Kruskal-Wallis", h, float(stats.chi2.sf(h, dof)),
                epsilon_squared(h, n), "epsilon_squared",
                _ci((y, codes), lambda a, b: epsilon_squared(kruskal_h(a, b)[0], a.size),
                    rng=children[1], **boot), n)
            cat = codes
        else:
            x = series.to_numpy(dtype=float)[keep]
            if n < 3 or np.unique(x).size < 2:
                continue
            sp = stats.spearmanr(x, y)
            add(name, spec.target, "Spearman", float(sp.statistic), float(sp.pvalue),
                float(sp.statistic), "spearman_rho",
                _ci((x, y), lambda a, b: stats.spearmanr(a, b).statistic,
                    rng=children[0], **boot), n)
            pe = stats.pearsonr(x, y)
            add(name, spec.target, "Pearson", float(pe.statistic), float(pe.pvalue),
                float(pe.statistic), "pearson_r",
                _ci((x, y), lambda a, b: np.corrcoef(a, b)[0, 1], rng=children[1], **boot), n)
            cat = pd.qcut(x, 10, labels=False, duplicates="drop").astype(np.int64)
        if np.unique(cat).size < 2 or np.unique(labels).size < 2:
            continue
        chi2, v, dof, _, _ = _chi2_from_codes(cat, labels)
        test = "chi-square" if kinds[name] == "categorical" else "chi-square (deciles)"
        add(name, class_name, test, chi2, float(stats.chi2.sf(chi2, dof)), v, "cramers_v",
            _ci((cat, labels), lambda a, b: _chi2_from_codes(a, b)[1], rng=children[2], **boot),
            n)

    out = pd.DataFrame(rows, columns=[c for c in UNIVARIATE_COLUMNS if c != "q_bh"])
    out.insert(UNIVARIATE_COLUMNS.index("q_bh"), "q_bh", np.nan)
    family = out["test"].str.replace(" (deciles)", "", regex=False)
    for _, idx in out.groupby([out["dataset"], out["target"], family],
                              sort=False).groups.items():
        out.loc[idx, "q_bh"] = _bh(out.loc[idx, "pvalue"].to_numpy(dtype=float))
    return out
