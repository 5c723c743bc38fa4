"""Fold-safe feature engineering and the identifier / constant-column audit.

The original analysis derived date features (Year, Month, is_recent, Season, cyclic month)
and per-column frequency and rarity counts on the *full* table before splitting it, so the
counts saw the test rows. Here each step is a scikit-learn transformer: the row-wise date
features learn nothing, and :class:`FrequencyEncoder` learns its counts in ``fit`` from the
training fold alone, so a pipeline refitted per fold never looks at its test fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from study.datasets import DatasetSpec

__all__ = [
    "DATE_NUMERIC",
    "ColumnAudit",
    "DateFeatures",
    "FrequencyEncoder",
    "MetadataFeatures",
    "audit_columns",
    "feature_columns",
    "make_preprocessor",
    "month_to_season",
]

#: Numeric columns derived from a date, in the original's order.
DATE_NUMERIC = ("Year", "Month", "is_recent", "month_sin", "month_cos")

_SEASONS = {12: "Winter", 1: "Winter", 2: "Winter", 3: "Spring", 4: "Spring", 5: "Spring",
            6: "Summer", 7: "Summer", 8: "Summer", 9: "Fall", 10: "Fall", 11: "Fall"}


def month_to_season(month: pd.Series) -> pd.Series:
    """Meteorological season of the northern hemisphere, as the original mapped it."""
    return month.map(_SEASONS).astype(object)


def _date_frame(dates: pd.Series, recent_year: int) -> pd.DataFrame:
    parsed = pd.to_datetime(dates, errors="coerce", format="mixed")
    year = parsed.dt.year.astype(float)
    month = parsed.dt.month.astype(float)
    out = pd.DataFrame(index=dates.index)
    out["Year"] = year
    out["Month"] = month
    out["is_recent"] = (year >= recent_year).astype(np.int64)
    out["month_sin"] = np.sin(2 * np.pi * month / 12)
    out["month_cos"] = np.cos(2 * np.pi * month / 12)
    out["Season"] = month_to_season(month)
    return out


class DateFeatures(TransformerMixin, BaseEstimator):
    """Year, Month, is_recent, Season and cyclic month of a date column.

    Row-wise and stateless: ``fit`` learns nothing, so it is fold-safe by construction.
    Unparsable dates become missing (imputed downstream inside the fold), as the original's
    ``pd.to_datetime(errors="coerce")`` did; ``is_recent`` is then 0, as in the original.

    Parameters
    ----------
    column : str
        The date column; it is replaced by the derived columns.
    recent_year : int
        ``is_recent`` is ``Year >= recent_year``.
    """

    def __init__(self, column: str = "Creation_Date", *, recent_year: int = 2023):
        self.column = column
        self.recent_year = recent_year

    def fit(self, X: pd.DataFrame, y=None) -> DateFeatures:
        if self.column not in X.columns:
            raise ValueError(f"column={self.column!r} is not in the input")
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        derived = _date_frame(X[self.column], self.recent_year)
        return pd.concat([X.drop(columns=[self.column]), derived], axis=1)


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Per-column frequency and rarity counts, learned on the training rows only.

    For each column ``c`` adds ``c_freq`` (how many training rows share the row's value) and
    ``c_is_rare`` (``c_freq <= rare_threshold``). A value not seen in training gets frequency
    0 and is rare. The original counted on the full table (test rows included); here the
    counts are the training fold's, so they do not change when the test fold's rows change.

    Parameters
    ----------
    columns : sequence of str
    rare_threshold : int
        The original's cut-off, 50 rows.

    Attributes
    ----------
    counts_ : dict of str to Series
        Value counts of each column in the training rows.
    """

    def __init__(self, columns: Sequence[str] = (), *, rare_threshold: int = 50):
        self.columns = columns
        self.rare_threshold = rare_threshold

    def fit(self, X: pd.DataFrame, y=None) -> FrequencyEncoder:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise ValueError(f"columns={missing!r} are not in the input")
        self.counts_ = {c: X[c].value_counts() for c in self.columns}
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "counts_")
        out = X.copy()
        for c in self.columns:
            freq = X[c].map(self.counts_[c]).astype(float).fillna(0.0)
            out[f"{c}_freq"] = freq
            out[f"{c}_is_rare"] = (freq <= self.rare_threshold).astype(np.int64)
        return out


class MetadataFeatures(TransformerMixin, BaseEstimator):
    """The original's feature engineering for one dataset, fold-safe.

    Keeps the spec's feature columns (identifiers and constants dropped), derives the date
    features, then the frequency and rarity counts of the categorical columns.

    Parameters
    ----------
    spec : DatasetSpec
    """

    def __init__(self, spec: DatasetSpec):
        self.spec = spec

    def _steps(self) -> list[TransformerMixin]:
        steps: list[TransformerMixin] = [DateFeatures(c) for c in self.spec.dates]
        if self.spec.frequency_columns:
            steps.append(FrequencyEncoder(self.spec.frequency_columns))
        return steps

    def fit(self, X: pd.DataFrame, y=None) -> MetadataFeatures:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None) -> pd.DataFrame:
        missing = [c for c in self.spec.features if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature column(s) {missing!r}")
        out = X.loc[:, list(self.spec.features)]
        self.steps_ = []
        for step in self._steps():
            out = step.fit(out).transform(out)
            self.steps_.append(step)
        self.n_features_in_ = X.shape[1]
        self.feature_names_out_ = np.asarray(out.columns, dtype=object)
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "steps_")
        out = X.loc[:, list(self.spec.features)]
        for step in self.steps_:
            out = step.transform(out)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_


def feature_columns(spec: DatasetSpec) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns that :class:`MetadataFeatures` outputs for ``spec``."""
    numeric = list(spec.numeric)
    categorical = list(spec.categorical)
    for _ in spec.dates:
        numeric += list(DATE_NUMERIC)
        categorical.append("Season")
    for c in spec.frequency_columns:
        numeric += [f"{c}_freq", f"{c}_is_rare"]
    return numeric, categorical


def make_preprocessor(spec: DatasetSpec, *, scale: bool = False, dense: bool = False) -> Pipeline:
    """Fold-safe preprocessing: features, median / mode imputation, one-hot encoding.

    Parameters
    ----------
    spec : DatasetSpec
    scale : bool
        Standardise the numeric columns (for penalised linear models, whose penalty is not
        scale-invariant).
    dense : bool
        Emit a dense float array (forests are several times slower on sparse one-hot input).

    Returns
    -------
    Pipeline
        Every step learns from the rows it is fitted on and nothing else.
    """
    numeric, categorical = feature_columns(spec)
    num_steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        num_steps.append(("scale", StandardScaler()))
    encode = ColumnTransformer(
        [
            ("num", Pipeline(num_steps), numeric),
            ("cat", Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense,
                                         dtype=np.float64)),
            ]), categorical),
        ],
        sparse_threshold=0.0 if dense else 1.0,
    )
    return Pipeline([("features", MetadataFeatures(spec)), ("encode", encode)])


@dataclass(frozen=True)
class ColumnAudit:
    """Why a column is, or is not, a feature of the corrected study.

    Attributes
    ----------
    column : str
    role : {"feature", "target", "identifier", "constant", "excluded"}
    n_distinct : int
    n_rows : int
    reason : str
    """

    column: str
    role: str
    n_distinct: int
    n_rows: int
    reason: str


def audit_columns(frame: pd.DataFrame, spec: DatasetSpec) -> list[ColumnAudit]:
    """Name each identifier or constant column and say why it is not a feature.

    The roles are measured on ``frame``, not only read from the spec: a declared feature
    that turns out unique per row or constant is reported as such.
    """
    n = len(frame)
    audits = []
    for col in frame.columns:
        distinct = int(frame[col].nunique(dropna=False))
        if col == spec.target:
            role, reason = "target", "the popularity measure both tasks predict"
        elif distinct <= 1:
            role, reason = "constant", f"one value in all {n} rows: carries no information"
        elif distinct == n and not pd.api.types.is_float_dtype(frame[col]):
            role = "identifier"
            reason = (f"{distinct} distinct values in {n} rows (unique per row): one-hot "
                      "encoding it gives every row its own column, which cannot generalise")
        elif col in spec.features:
            role, reason = "feature", f"{distinct} distinct values"
        else:
            role, reason = "excluded", f"dropped by the original analysis ({distinct} values)"
        audits.append(ColumnAudit(str(col), role, distinct, n, reason))
    return audits
