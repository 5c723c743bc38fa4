"""Data forensics: do the tables carry real-world structure, or look like uniform noise?

The original analysis concluded that popularity is "driven by unobserved factors". An
alternative reading is that the two Kaggle tables were generated as independent uniform
draws, in which case there is nothing for *any* factor to explain. :func:`forensics` collects
the evidence that separates the two readings:

- **marginals**: every numeric column (and the target) against a continuous uniform on its
  observed range (Kolmogorov-Smirnov), every categorical column against a discrete uniform
  over its observed levels (chi-square goodness of fit), dates against a uniform over the
  observed date range (KS on day numbers). The range is *estimated* from the sample (its
  minimum and maximum), which makes the KS p-value conservative (Lilliefors-type effect);
  the test is still informative as a screen, not as an exact test.
- **pairwise independence** of every pair of feature and target columns:
  categorical x categorical chi-square with Cramér's V (Cramér 1946), numeric x numeric
  Spearman's rho, numeric x categorical Kruskal-Wallis (Kruskal & Wallis 1952) with epsilon
  squared (Tomczak & Tomczak 2014); q-values by Benjamini & Hochberg (1995) across all pairs
  of a dataset.
- **impossible records**: counts that exceed ``Views`` (a like, share or comment needs a
  view), negative counts.
- **constant columns** and **templated identifiers** (``ART-00001``,
  ``https://example.com/artwork/00001.jpg``, numbered in row order).

What these tests can and cannot say: marginals and pairs *consistent with* independent
uniform draws are what a generator such as ``numpy.random.uniform`` / ``random.choice``
produces, but they are not proof of synthesis (real data can be nearly uniform, and a test
that does not reject has only limited power against small departures). Impossible records
and templated identifiers, on the other hand, are direct facts about the file.

References
----------
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
powerful approach to multiple testing. *JRSS B* 57(1), 289-300.

Cramér, H. (1946). *Mathematical Methods of Statistics*. Princeton University Press.

Kruskal, W. H. and Wallis, W. A. (1952). Use of ranks in one-criterion variance analysis.
*JASA* 47(260), 583-621.

Tomczak, M. and Tomczak, E. (2014). The need to report effect size estimates revisited. An
overview of some recommended measures of effect size. *Trends in Sport Sciences* 1(21), 19-25.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from study.datasets import DatasetSpec
from study.io import write_table

__all__ = [
    "ForensicsResult",
    "cramers_v",
    "epsilon_squared",
    "forensics",
    "identifier_template",
    "kruskal_h",
    "summary_text",
    "write_forensics",
]

MARGINAL_COLUMNS = ["dataset", "column", "kind", "test", "statistic", "pvalue", "n", "detail"]
PAIRWISE_COLUMNS = ["dataset", "column_a", "column_b", "test", "statistic", "effect",
                    "effect_name", "pvalue", "q_bh"]
IMPOSSIBLE_COLUMNS = ["dataset", "check", "count", "fraction", "n", "first_rows"]
CONSTANT_COLUMNS = ["dataset", "column", "value", "n"]
TEMPLATE_COLUMNS = ["dataset", "column", "template", "share_matching", "share_number_is_row",
                    "n_unique", "n"]

#: counts that cannot exceed the number of views of the same artwork
COUNT_COLUMNS = ("Likes", "Shares", "Comments")
VIEWS_COLUMN = "Views"
_SHOW_ROWS = 5
#: a numeric column with at most this many lattice points also gets a discrete-uniform test
_MAX_LATTICE = 1000


# --------------------------------------------------------------------------- effect sizes

def _codes(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..k-1 of a categorical array and the number of levels k.

    Numeric input is compared as numbers (fast: bootstrap resamples of codes come back
    here, as floats when paired with a float array); anything else as strings.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "iubf":
        array = np.asarray(values, dtype=object).astype(str)
    _, codes = np.unique(array, return_inverse=True)
    codes = codes.ravel().astype(np.int64)
    return codes, int(codes.max()) + 1 if codes.size else 0


def _chi2_from_codes(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int, int, int]:
    """Pearson chi-square of independence (no continuity correction) from integer codes.

    Returns ``(chi2, cramers_v, dof, rows, cols)``; levels absent from the sample are dropped.
    """
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, c = table.shape
    n = table.sum()
    if r < 2 or c < 2:
        return float("nan"), float("nan"), 0, r, c
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    v = float(np.sqrt(chi2 / (n * (min(r, c) - 1))))
    return chi2, min(v, 1.0), (r - 1) * (c - 1), r, c


def cramers_v(a, b) -> float:
    """Cramér's V of two categorical arrays (Cramér 1946).

    Parameters
    ----------
    a, b : array-like
        Paired observations of two categorical variables (numeric arrays compared as
        numbers, anything else as strings).

    Returns
    -------
    float
        :math:`V = \\sqrt{\\chi^2 / (n\\,(\\min(r, c) - 1))}`, from the Pearson chi-square
        without continuity correction; 0 for independence, 1 for a perfect association.
        NaN when either variable has a single level.

    References
    ----------
    Cramér, H. (1946). *Mathematical Methods of Statistics*, p. 282. Princeton.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same length; got {a.shape} and {b.shape}")
    return _chi2_from_codes(_codes(a)[0], _codes(b)[0])[1]


def kruskal_h(values, groups) -> tuple[float, int]:
    """Kruskal-Wallis H (tie-corrected) and its degrees of freedom, from ranks and bincount.

    Equal to :func:`scipy.stats.kruskal` on the same groups; vectorised so that bootstrap
    resamples are cheap. Empty groups are ignored.
    """
    y = np.asarray(values, dtype=float)
    g, k = _codes(groups)
    n = y.size
    ranks = stats.rankdata(y)
    counts = np.bincount(g, minlength=k).astype(float)
    sums = np.bincount(g, weights=ranks, minlength=k)
    present = counts > 0
    h = 12.0 / (n * (n + 1)) * np.sum(sums[present] ** 2 / counts[present]) - 3.0 * (n + 1)
    _, ties = np.unique(y, return_counts=True)
    correction = 1.0 - np.sum(ties.astype(float) ** 3 - ties) / (n ** 3 - n)
    if correction <= 0:
        return float("nan"), int(present.sum()) - 1
    return float(h / correction), int(present.sum()) - 1


def epsilon_squared(h: float, n: int) -> float:
    """Epsilon squared of a Kruskal-Wallis test (Tomczak & Tomczak 2014).

    Parameters
    ----------
    h : float
        The Kruskal-Wallis statistic.
    n : int
        Total number of observations.

    Returns
    -------
    float
        :math:`E^2_R = H / ((n^2 - 1) / (n + 1)) = H / (n - 1)`, between 0 (no difference in
        mean ranks) and 1 (groups perfectly separated).

    References
    ----------
    Tomczak, M. and Tomczak, E. (2014). *Trends in Sport Sciences* 1(21), 19-25, eq. 12.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2; got {n}")
    return float(h) * (n + 1) / (n ** 2 - 1)


# --------------------------------------------------------------------------- helpers

def _check_inputs(frame: pd.DataFrame, spec: DatasetSpec) -> None:
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"spec must be a DatasetSpec; got {type(spec).__name__}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing} of dataset {spec.name!r}")
    if len(frame) < 3:
        raise ValueError(f"frame has {len(frame)} row(s); need at least 3")


def _day_numbers(values: pd.Series) -> np.ndarray:
    dates = pd.to_datetime(values, errors="coerce")
    days = (dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    return days.to_numpy(dtype=float)


def _numeric(frame: pd.DataFrame, col: str, spec: DatasetSpec) -> np.ndarray:
    if col in spec.dates:
        return _day_numbers(frame[col])
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _other_columns(spec: DatasetSpec) -> tuple[str, ...]:
    """Columns that are neither features, target, identifiers nor constants (Artist_Name)."""
    used = set(spec.features) | {spec.target} | set(spec.identifiers) | set(spec.constants)
    return tuple(c for c in spec.columns if c not in used)


def _lattice_step(x: np.ndarray) -> float | None:
    """The common step of a numeric column on a regular grid, or None."""
    values = np.unique(x)
    if values.size < 2:
        return None
    step = float(np.min(np.diff(values)))
    points = (values[-1] - values[0]) / step
    if points > _MAX_LATTICE or not np.allclose((values - values[0]) / step,
                                                np.round((values - values[0]) / step),
                                                atol=1e-6):
        return None
    return step


# --------------------------------------------------------------------------- marginals

def _marginals(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    rows = []
    numeric_cols = [*spec.numeric, spec.target]
    categorical_cols = [*spec.categorical, *_other_columns(spec)]
    for col in numeric_cols + list(spec.dates):
        x = _numeric(frame, col, spec)
        x = x[np.isfinite(x)]
        kind = "date" if col in spec.dates else "numeric"
        if x.size < 3 or x.min() == x.max():
            continue
        lo, hi = float(x.min()), float(x.max())
        res = stats.kstest(x, "uniform", args=(lo, hi - lo))
        unit = " days" if kind == "date" else ""
        rows.append({"column": col, "kind": kind, "test": "KS vs continuous uniform",
                     "statistic": float(res.statistic), "pvalue": float(res.pvalue),
                     "n": int(x.size),
                     "detail": f"range [{lo:g}, {hi:g}]{unit} estimated from the sample "
                               "(p-value conservative)"})
        step = _lattice_step(x)
        if step is not None:
            k = round((hi - lo) / step) + 1
            idx = np.round((x - lo) / step).astype(np.int64)
            counts = np.bincount(idx, minlength=k)
            res = stats.chisquare(counts)
            rows.append({"column": col, "kind": kind, "test": "chi-square vs discrete uniform",
                         "statistic": float(res.statistic), "pvalue": float(res.pvalue),
                         "n": int(x.size),
                         "detail": f"{k} grid points step {step:g} on the observed range, "
                                   f"{int((counts > 0).sum())} observed"})
            # a continuous uniform rounded to the grid gives the two end points half weight
            expected = np.full(k, 1.0 / (k - 1))
            expected[[0, -1]] /= 2
            res = stats.chisquare(counts, f_exp=expected * counts.sum())
            interior = counts[1:-1].mean() if k > 2 else float("nan")
            rows.append({"column": col, "kind": kind,
                         "test": "chi-square vs rounded continuous uniform",
                         "statistic": float(res.statistic), "pvalue": float(res.pvalue),
                         "n": int(x.size),
                         "detail": f"end points weighted 1/2; observed end counts "
                                   f"{counts[0]}, {counts[-1]} vs interior mean {interior:.1f}"})
    for col in categorical_cols:
        values = frame[col].dropna().astype(str)
        counts = values.value_counts()
        if counts.size < 2:
            continue
        res = stats.chisquare(counts.to_numpy())
        rows.append({"column": col, "kind": "categorical",
                     "test": "chi-square vs discrete uniform",
                     "statistic": float(res.statistic), "pvalue": float(res.pvalue),
                     "n": int(values.size),
                     "detail": f"{counts.size} observed levels, counts {counts.min()}"
                               f"..{counts.max()}"})
    out = pd.DataFrame(rows, columns=MARGINAL_COLUMNS[1:])
    out.insert(0, "dataset", spec.name)
    return out


# --------------------------------------------------------------------------- pairwise

def _pair_test(frame: pd.DataFrame, spec: DatasetSpec, a: str, b: str,
               kinds: dict[str, str]) -> dict:
    ka, kb = kinds[a], kinds[b]
    if ka == "numeric" and kb == "categorical":
        a, b, ka, kb = b, a, kb, ka
    if ka == "categorical" and kb == "categorical":
        sub = frame[[a, b]].dropna()
        chi2, v, dof, _, _ = _chi2_from_codes(_codes(sub[a])[0], _codes(sub[b])[0])
        p = float(stats.chi2.sf(chi2, dof)) if dof > 0 else float("nan")
        return {"column_a": a, "column_b": b, "test": "chi-square independence",
                "statistic": chi2, "effect": v, "effect_name": "cramers_v", "pvalue": p}
    if ka == "categorical":  # categorical x numeric
        y = _numeric(frame, b, spec)
        keep = np.isfinite(y) & frame[a].notna().to_numpy()
        h, dof = kruskal_h(y[keep], frame[a].to_numpy()[keep])
        n = int(keep.sum())
        p = float(stats.chi2.sf(h, dof)) if dof > 0 else float("nan")
        return {"column_a": a, "column_b": b, "test": "Kruskal-Wallis", "statistic": h,
                "effect": epsilon_squared(h, n), "effect_name": "epsilon_squared", "pvalue": p}
    x, y = _numeric(frame, a, spec), _numeric(frame, b, spec)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return {"column_a": a, "column_b": b, "test": "Spearman", "statistic": np.nan,
                "effect": np.nan, "effect_name": "spearman_rho", "pvalue": np.nan}
    res = stats.spearmanr(x[keep], y[keep])
    return {"column_a": a, "column_b": b, "test": "Spearman", "statistic": float(res.statistic),
            "effect": float(res.statistic), "effect_name": "spearman_rho",
            "pvalue": float(res.pvalue)}


def _pairwise(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    kinds = {c: "categorical" for c in spec.categorical}
    kinds.update({c: "numeric" for c in (*spec.numeric, *spec.dates, spec.target)})
    cols = [*spec.features, spec.target]
    rows = [_pair_test(frame, spec, a, b, kinds) for a, b in itertools.combinations(cols, 2)]
    out = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS[1:-1])
    out.insert(0, "dataset", spec.name)
    out["q_bh"] = _bh(out["pvalue"].to_numpy(dtype=float))
    return out


def _bh(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values; NaN p-values stay NaN and do not count."""
    q = np.full(pvalues.shape, np.nan)
    ok = np.isfinite(pvalues)
    if ok.any():
        q[ok] = multipletests(pvalues[ok], method="fdr_bh")[1]
    return q


# --------------------------------------------------------------------------- records

def _first_rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)[:_SHOW_ROWS]
    more = f" (+{int(mask.sum()) - len(rows)} more)" if mask.sum() > len(rows) else ""
    return ", ".join(str(int(r)) for r in rows) + more


def _impossible(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    rows = []
    n = len(frame)
    if VIEWS_COLUMN in frame.columns:
        views = pd.to_numeric(frame[VIEWS_COLUMN], errors="coerce").to_numpy(dtype=float)
        for col in COUNT_COLUMNS:
            if col not in frame.columns:
                continue
            counts = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            mask = counts > views  # NaN compares False
            rows.append({"check": f"{col} > {VIEWS_COLUMN}", "count": int(mask.sum()),
                         "fraction": float(mask.mean()), "n": n,
                         "first_rows": _first_rows(mask)})
    for col in (*spec.numeric, spec.target):
        if col in COUNT_COLUMNS or col == VIEWS_COLUMN or col == "Price (USD)":
            x = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            mask = x < 0
            rows.append({"check": f"{col} < 0", "count": int(mask.sum()),
                         "fraction": float(mask.mean()), "n": n,
                         "first_rows": _first_rows(mask)})
    out = pd.DataFrame(rows, columns=IMPOSSIBLE_COLUMNS[1:])
    out.insert(0, "dataset", spec.name)
    return out


def _constants(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    rows = []
    for col in spec.columns:
        values = frame[col]
        if values.nunique(dropna=False) == 1:
            value = values.iloc[0]
            text = str(value)
            rows.append({"column": col, "value": text if len(text) <= 80 else text[:77] + "...",
                         "n": len(frame)})
    out = pd.DataFrame(rows, columns=CONSTANT_COLUMNS[1:])
    out.insert(0, "dataset", spec.name)
    return out


def identifier_template(value: str) -> str:
    r"""The regex template of one identifier: literal text escaped, digit runs as ``\d{k}``.

    >>> identifier_template("ART-00001")
    '^ART\\-\\d{5}$'
    """
    parts = re.split(r"(\d+)", str(value))
    out = "".join(rf"\d{{{len(p)}}}" if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return f"^{out}$"


def _templates(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    rows = []
    n = len(frame)
    row_numbers = np.arange(1, n + 1)
    for col in spec.identifiers:
        values = frame[col].astype(str)
        # digit runs of any width: 'ART_1' and 'ART_5000' share one template
        loose = values.map(lambda v: re.sub(r"\\d\{\d+\}", r"\\d+", identifier_template(v)))
        common = loose.value_counts().index[0]
        fixed = values.map(identifier_template).value_counts().index[0]
        template = fixed if values.str.fullmatch(fixed[1:-1]).mean() >= 0.99 else common
        match = values.str.fullmatch(template[1:-1])
        numbers = pd.to_numeric(values.str.extract(r"(\d+)(?!.*\d)", expand=False),
                                errors="coerce").to_numpy(dtype=float)
        rows.append({"column": col, "template": template,
                     "share_matching": float(match.mean()),
                     "share_number_is_row": float(np.mean(numbers == row_numbers)),
                     "n_unique": int(values.nunique()), "n": n})
    out = pd.DataFrame(rows, columns=TEMPLATE_COLUMNS[1:])
    out.insert(0, "dataset", spec.name)
    return out


# --------------------------------------------------------------------------- API

@dataclass(frozen=True)
class ForensicsResult:
    """Everything :func:`forensics` found about one table.

    Attributes
    ----------
    dataset : str
    n_rows : int
    marginals : DataFrame
        ``dataset, column, kind, test, statistic, pvalue, n, detail``.
    pairwise : DataFrame
        ``dataset, column_a, column_b, test, statistic, effect, effect_name, pvalue, q_bh``.
    impossible : DataFrame
        ``dataset, check, count, fraction, n, first_rows`` (0-based row positions).
    constants : DataFrame
        ``dataset, column, value, n``.
    templates : DataFrame
        ``dataset, column, template, share_matching, share_number_is_row, n_unique, n``.
    min_marginal_p : float
        Smallest marginal p-value (no multiplicity correction).
    min_pairwise_q : float
        Smallest BH q-value among all pairs.
    max_abs_pairwise_effect : float
        Largest absolute pairwise effect (V, epsilon squared or rho).
    """

    dataset: str
    n_rows: int
    marginals: pd.DataFrame
    pairwise: pd.DataFrame
    impossible: pd.DataFrame
    constants: pd.DataFrame
    templates: pd.DataFrame
    min_marginal_p: float
    min_pairwise_q: float
    max_abs_pairwise_effect: float


def forensics(frame: pd.DataFrame, spec: DatasetSpec) -> ForensicsResult:
    """Test a table for the fingerprints of independent uniform generation.

    Parameters
    ----------
    frame : DataFrame
        The validated table (as returned by :func:`study.datasets.load`).
    spec : DatasetSpec
        Its specification (which columns are features, target, identifiers).

    Returns
    -------
    ForensicsResult

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame or ``spec`` not a DatasetSpec.
    ValueError
        If ``frame`` lacks a column of ``spec`` or has fewer than 3 rows.

    Notes
    -----
    KS tests use the observed minimum and maximum as the uniform's range; estimating the
    range makes the nominal p-value conservative. Chi-square goodness of fit for
    categorical columns uses the *observed* levels only (a level never drawn is invisible).
    Pairwise p-values are BH-adjusted across all pairs of the dataset (Benjamini &
    Hochberg 1995). See the module docstring for references.
    """
    _check_inputs(frame, spec)
    frame = frame.reset_index(drop=True)
    marginals = _marginals(frame, spec)
    pairwise = _pairwise(frame, spec)
    q = pairwise["q_bh"].to_numpy(dtype=float)
    effects = np.abs(pairwise["effect"].to_numpy(dtype=float))
    return ForensicsResult(
        dataset=spec.name,
        n_rows=len(frame),
        marginals=marginals,
        pairwise=pairwise,
        impossible=_impossible(frame, spec),
        constants=_constants(frame, spec),
        templates=_templates(frame, spec),
        min_marginal_p=float(np.nanmin(marginals["pvalue"])) if len(marginals) else np.nan,
        min_pairwise_q=float(np.nanmin(q)) if np.isfinite(q).any() else float("nan"),
        max_abs_pairwise_effect=(float(np.nanmax(effects)) if np.isfinite(effects).any()
                                 else float("nan")),
    )


def summary_text(result: ForensicsResult, *, alpha: float = 0.05) -> str:
    """One paragraph on what the forensic tests support and what they do not.

    Parameters
    ----------
    result : ForensicsResult
    alpha : float
        Level for calling a marginal p-value or a pairwise q-value small.
    """
    if not isinstance(result, ForensicsResult):
        raise TypeError(f"result must be a ForensicsResult; got {type(result).__name__}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    m = result.marginals
    n_rej = int((m["pvalue"] < alpha).sum())
    n_rej_bh = int((_bh(m["pvalue"].to_numpy(dtype=float)) < alpha).sum())
    p = result.pairwise
    n_pairs = len(p)
    n_sig = int((p["q_bh"] < alpha).sum())
    parts = [f"{result.dataset} ({result.n_rows} rows):"]
    parts.append(f"{n_rej} of {len(m)} marginal uniformity tests have p < {alpha:g} "
                 f"(about {len(m) * alpha:.1f} expected by chance; smallest p = "
                 f"{result.min_marginal_p:.3g}; {n_rej_bh} with BH q < {alpha:g}; ranges "
                 "estimated from the sample);")
    parts.append(f"{n_sig} of {n_pairs} pairwise independence tests have BH q < {alpha:g} "
                 f"(smallest q = {result.min_pairwise_q:.3g}, largest |effect| = "
                 f"{result.max_abs_pairwise_effect:.3g}).")
    bad = result.impossible[result.impossible["count"] > 0]
    for row in bad.itertuples(index=False):
        parts.append(f"{row.count} rows ({row.fraction:.1%}) have {row.check}, which no "
                     "real engagement log can produce.")
    if len(result.constants):
        parts.append(f"Constant column(s): {', '.join(result.constants['column'])}.")
    for row in result.templates.itertuples(index=False):
        if row.share_matching >= 0.99:
            parts.append(f"{row.column} follows the template {row.template} in "
                         f"{row.share_matching:.0%} of rows, numbered in row order in "
                         f"{row.share_number_is_row:.0%}.")
    if n_rej_bh == 0 and n_sig == 0:
        parts.append("Every marginal and every pair is consistent with independent uniform "
                     "draws: the data show no structure that 'unobserved factors' would need "
                     "to explain. This is consistent with synthetic generation but is not "
                     "proof of it; non-rejection has limited power against small departures.")
    else:
        parts.append("Some marginals or pairs depart from independent uniform draws after "
                     "BH adjustment; inspect them before reading the table as pure noise (a "
                     "departure such as half-weight end points of a rounded score is itself "
                     "a fingerprint of generation, not of real-world structure).")
    if len(bad):
        parts.append("The impossible records are direct evidence that the rows were not "
                     "logged from a real platform.")
    return " ".join(parts)


def write_forensics(result: ForensicsResult, directory: str | Path, *,
                    formats: tuple[str, ...] = ("csv", "md", "tex")) -> list[Path]:
    """Write the five tables as ``forensics_<table>_<dataset>.*`` via :func:`write_table`."""
    written: list[Path] = []
    for name in ("marginals", "pairwise", "impossible", "constants", "templates"):
        written += write_table(getattr(result, name), directory,
                               f"forensics_{name}_{result.dataset}", formats=formats)
    return written
