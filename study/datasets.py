"""The two datasets of the study: specifications, loading, schema validation and provenance.

Each dataset has one :class:`DatasetSpec` (file name, schema, target, the two task framings
of the original analysis, identifier and constant columns). :func:`load` reads a CSV from a
data folder, validates it against its spec and returns the frame together with a
:class:`Provenance` record (path, sha256, rows, whether it is the published release).

Bad input and what it becomes
-----------------------------
Errors (:class:`~study.errors.DataError`, message names the file, the column and the first
offending rows, counted as CSV line numbers with the header on line 1):

- the file is missing (the message says where to download it), empty, binary or not a CSV;
- a required column is missing or renamed (close matches are suggested);
- the target is non-numeric, NaN or infinite in some rows, or constant;
- an identifier column has duplicates (duplicated records would sit on both sides of a
  cross-validation split and inflate every score);
- a numeric feature holds non-numeric text;
- too few rows for stratified ``n_splits``-fold CV: regression stratifies on
  ``n_bins`` target-quantile bins and needs ``n_splits * n_bins`` rows, classification needs
  ``n_splits`` rows in each class.

Warnings (:class:`~study.errors.DataWarning`, with a count; the rows are kept, never silently
dropped):

- the file's sha256 differs from the published release (a user may bring their own version);
- a date does not parse (it becomes missing and is imputed inside each training fold, as the
  original's ``errors="coerce"`` did);
- a feature has missing values (imputed inside each training fold);
- extra columns beyond the schema (ignored).
"""

from __future__ import annotations

import difflib
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from study.errors import DataError, DataWarning

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "Provenance",
    "TaskSpec",
    "class_target",
    "file_sha256",
    "get_spec",
    "load",
    "task_target",
    "validate_frame",
]

_SHOW_ROWS = 5


@dataclass(frozen=True)
class TaskSpec:
    """One framing of the prediction problem.

    Attributes
    ----------
    name : {"regression", "classification"}
    metric : {"r2", "roc_auc"}
        The headline metric of the task.
    threshold_rule : {">=", ">"} or None
        For classification: class 1 is ``target >= median`` or ``target > median``, as the
        original analysis wrote it for that dataset.
    """

    name: str
    metric: str
    threshold_rule: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Schema and framing of one dataset.

    Attributes
    ----------
    name : str
        Short name used on the command line and in tables (``trends``, ``popularity``).
    filename : str
        The file's name in the data folder, as published.
    title, kaggle_slug : str
        Provenance: the Kaggle dataset's title and ``owner/name`` slug.
    sha256 : str
        Digest of the published release.
    columns : tuple of str
        Every column the file must have, in the published order.
    target : str
        The popularity measure that both tasks predict.
    categorical, numeric, dates : tuple of str
        Feature columns of the corrected study, by kind.
    identifiers : tuple of str
        Columns unique per row (identifiers, not features).
    constants : tuple of str
        Columns with one value (no information, not features).
    id_column : str
        The record identifier, checked for duplicates.
    excluded_by_original : tuple of str
        Columns the original analysis dropped by hand before modelling.
    frequency_columns : tuple of str
        Categorical columns that get the original's frequency and rarity features (the
        original engineered them for the trends table only).
    n_rows : int
        Rows of the published release.
    tasks : tuple of TaskSpec
    """

    name: str
    filename: str
    title: str
    kaggle_slug: str
    sha256: str
    columns: tuple[str, ...]
    target: str
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    dates: tuple[str, ...]
    identifiers: tuple[str, ...]
    constants: tuple[str, ...]
    id_column: str
    excluded_by_original: tuple[str, ...]
    frequency_columns: tuple[str, ...]
    n_rows: int
    tasks: tuple[TaskSpec, ...]

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/datasets/{self.kaggle_slug}"

    @property
    def features(self) -> tuple[str, ...]:
        """Raw input columns of the corrected study (before feature engineering)."""
        return self.categorical + self.numeric + self.dates

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        known = ", ".join(t.name for t in self.tasks)
        raise ValueError(f"task={name!r} is not a task of {self.name!r}; expected one of {known}")


DATASETS: dict[str, DatasetSpec] = {
    "trends": DatasetSpec(
        name="trends",
        filename="ai_generated_art_trends_2024.csv",
        title="AI-Generated Art Trends",
        kaggle_slug="waqi786/ai-generated-art-trends",
        sha256="b32a36c71256b35000a7a4892b9cefa1aaa83c3056d9338d1c1dad8274d28782",
        columns=(
            "Artwork_ID", "Artist_Name", "Art_Style", "Creation_Date", "Medium", "Tools_Used",
            "Popularity_Score", "Region", "Art_Genre", "Platform", "Description", "Image_URL",
        ),
        target="Popularity_Score",
        categorical=("Art_Style", "Tools_Used", "Platform", "Region", "Art_Genre", "Medium"),
        numeric=(),
        dates=("Creation_Date",),
        identifiers=("Artwork_ID", "Image_URL"),
        constants=("Description",),
        id_column="Artwork_ID",
        excluded_by_original=("Artwork_ID", "Artist_Name"),
        frequency_columns=("Art_Style", "Tools_Used", "Platform", "Region", "Art_Genre", "Medium"),
        n_rows=10000,
        tasks=(
            TaskSpec("regression", "r2"),
            TaskSpec("classification", "roc_auc", threshold_rule=">="),
        ),
    ),
    "popularity": DatasetSpec(
        name="popularity",
        filename="AI_Generated_Art_Popularity.csv",
        title="AI-Generated Art Popularity and Market Trends",
        kaggle_slug="atharvasoundankar/ai-generated-art-popularity-and-market-trends",
        sha256="1ede056375b0728046ff13d5a483e73d3064c532d3515afa68156242caf13881",
        columns=(
            "Artwork_ID", "Platform", "Style", "Creator_Type", "Views", "Likes", "Shares",
            "Comments", "Price (USD)", "Engagement_Score",
        ),
        target="Engagement_Score",
        categorical=("Platform", "Style", "Creator_Type"),
        numeric=("Views", "Likes", "Shares", "Comments", "Price (USD)"),
        dates=(),
        identifiers=("Artwork_ID",),
        constants=(),
        id_column="Artwork_ID",
        excluded_by_original=(),
        frequency_columns=(),
        n_rows=5000,
        tasks=(
            TaskSpec("regression", "r2"),
            TaskSpec("classification", "roc_auc", threshold_rule=">"),
        ),
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """Return the spec of dataset ``name``, or raise a ``ValueError`` naming the choices."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise ValueError(f"dataset={name!r} is unknown; expected one of {known}") from None


@dataclass(frozen=True)
class Provenance:
    """Where a loaded table came from.

    Attributes
    ----------
    dataset : str
    path : str
        The file as given (relative paths stay relative, so records are machine-independent).
    sha256 : str
    expected_sha256 : str
    matches_release : bool
        Whether ``sha256`` equals the published release's digest.
    n_rows, n_columns : int
    warnings : tuple of str
        Every data-quality warning issued while loading, with its count.
    """

    dataset: str
    path: str
    sha256: str
    expected_sha256: str
    matches_release: bool
    n_rows: int
    n_columns: int
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "path": self.path,
            "sha256": self.sha256,
            "expected_sha256": self.expected_sha256,
            "matches_release": self.matches_release,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "warnings": list(self.warnings),
        }


def file_sha256(path: str | Path) -> str:
    """Hex sha256 digest of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lines(index: pd.Index | np.ndarray) -> str:
    """CSV line numbers (header = line 1) of the first offending rows."""
    rows = [int(i) + 2 for i in list(index)[:_SHOW_ROWS]]
    more = "" if len(index) <= _SHOW_ROWS else f" (and {len(index) - _SHOW_ROWS} more)"
    return ", ".join(map(str, rows)) + more


def _read_csv(path: Path, spec: DatasetSpec) -> pd.DataFrame:
    if not path.exists():
        raise DataError(
            f"{path}: file not found. Download {spec.filename!r} from the Kaggle dataset "
            f"{spec.title!r} ({spec.url}) and put it in {path.parent}/ (see data/README.md)."
        )
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if not head.strip():
        raise DataError(f"{path}: the file is empty; expected a CSV with columns {spec.columns}")
    if b"\x00" in head:
        raise DataError(f"{path}: binary data (NUL bytes), not a CSV text file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a cut multi-byte character at the end of the block is fine
        if exc.start < len(head) - 4:
            raise DataError(
                f"{path}: not UTF-8 text (byte {exc.start}); expected a CSV file"
            ) from None
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV file ({reason})") from None
    return frame


def validate_frame(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    source: str = "<frame>",
    n_splits: int = 5,
    n_bins: int = 10,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Check a raw table against its spec.

    Parameters
    ----------
    frame : DataFrame
        The table as read from the CSV file.
    spec : DatasetSpec
    source : str
        How to name the table in messages (its path).
    n_splits, n_bins : int
        The cross-validation design the table must support: ``n_splits`` folds, regression
        stratified on ``n_bins`` target-quantile bins.

    Returns
    -------
    frame : DataFrame
        The validated table, columns in the published order, dates left as text (feature
        engineering parses them inside each fold).
    warnings : tuple of str
        The data-quality warnings issued (also emitted as :class:`DataWarning`).

    Raises
    ------
    DataError
        For every condition listed in the module docstring as an error.
    """
    issued: list[str] = []

    def warn(message: str) -> None:
        issued.append(message)
        warnings.warn(message, DataWarning, stacklevel=3)

    if len(frame.columns) == 0 or len(frame) == 0:
        raise DataError(f"{source}: no data rows; expected {spec.n_rows} rows of {spec.columns}")
    present = [str(c) for c in frame.columns]
    missing = [c for c in spec.columns if c not in present]
    if missing:
        extra = [c for c in present if c not in spec.columns]
        hints = []
        for col in missing:
            close = difflib.get_close_matches(col, extra, n=1, cutoff=0.6)
            if close:
                hints.append(f"{close[0]!r} looks like {col!r}")
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise DataError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))}{hint}; "
            f"the file has {present}"
        )
    extra = [c for c in present if c not in spec.columns]
    if extra:
        warn(f"{source}: {len(extra)} column(s) not in the schema are ignored: {extra}")
    frame = frame.loc[:, list(spec.columns)].reset_index(drop=True)

    # target: numeric, finite, not constant
    target = frame[spec.target]
    numeric_target = pd.to_numeric(target, errors="coerce")
    bad = numeric_target.isna() & target.notna()
    if bad.any():
        rows = frame.index[bad.to_numpy()]
        raise DataError(
            f"{source}: column {spec.target!r} must be numeric; {int(bad.sum())} non-numeric "
            f"value(s), first {target[bad].iloc[0]!r}, at line(s) {_lines(rows)}"
        )
    values = numeric_target.to_numpy(dtype=float)
    nonfinite = ~np.isfinite(values)
    if nonfinite.any():
        rows = frame.index[nonfinite]
        raise DataError(
            f"{source}: column {spec.target!r} has {int(nonfinite.sum())} missing or infinite "
            f"value(s) at line(s) {_lines(rows)}; remove or fill those rows"
        )
    if np.unique(values).size < 2:
        raise DataError(
            f"{source}: column {spec.target!r} is constant ({values[0]!r}); nothing to predict"
        )
    frame[spec.target] = values

    # identifiers unique
    ids = frame[spec.id_column]
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        rows = frame.index[dup.to_numpy()]
        raise DataError(
            f"{source}: column {spec.id_column!r} has {int(ids[dup].nunique())} duplicated "
            f"identifier(s), first {ids[dup].iloc[0]!r}, at line(s) {_lines(rows)}"
        )

    # numeric features
    for col in spec.numeric:
        raw = frame[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            rows = frame.index[bad.to_numpy()]
            raise DataError(
                f"{source}: column {col!r} must be numeric; {int(bad.sum())} non-numeric "
                f"value(s), first {raw[bad].iloc[0]!r}, at line(s) {_lines(rows)}"
            )
        num = num.astype(float)
        inf = np.isinf(num.to_numpy())
        if inf.any():
            warn(f"{source}: column {col!r} has {int(inf.sum())} infinite value(s) at line(s) "
                 f"{_lines(frame.index[inf])}; they are treated as missing")
            num = num.mask(np.isinf(num))
        frame[col] = num

    # dates: parse to check, keep text
    for col in spec.dates:
        raw = frame[col]
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
        bad = parsed.isna() & raw.notna()
        if bad.any():
            rows = frame.index[bad.to_numpy()]
            warn(f"{source}: column {col!r} has {int(bad.sum())} unparsable date(s), first "
                 f"{raw[bad].iloc[0]!r}, at line(s) {_lines(rows)}; they are treated as missing")

    for col in spec.features:
        n_missing = int(frame[col].isna().sum())
        if n_missing:
            warn(f"{source}: column {col!r} has {n_missing} missing value(s) at line(s) "
                 f"{_lines(frame.index[frame[col].isna().to_numpy()])}; imputed inside each "
                 "training fold")

    # enough rows for the CV design
    n = len(frame)
    need = n_splits * n_bins
    if n < need:
        raise DataError(
            f"{source}: {n} rows are too few for {n_splits}-fold CV stratified on {n_bins} "
            f"target-quantile bins; need at least {need}"
        )
    for task in spec.tasks:
        if task.threshold_rule is None:
            continue
        labels = class_target(values, task.threshold_rule)
        counts = np.bincount(labels, minlength=2)
        if counts.min() < n_splits:
            raise DataError(
                f"{source}: the {task.name} target ({spec.target} {task.threshold_rule} median) "
                f"has {counts[0]} row(s) in class 0 and {counts[1]} in class 1; stratified "
                f"{n_splits}-fold CV needs at least {n_splits} in each"
            )
    return frame, tuple(issued)


def class_target(values: np.ndarray, rule: str) -> np.ndarray:
    """Binary class labels as the original analysis defined them.

    Parameters
    ----------
    values : array-like of float
        The popularity measure.
    rule : {">=", ">"}
        Class 1 is ``values >= median`` (trends) or ``values > median`` (popularity).
    """
    values = np.asarray(values, dtype=float)
    median = np.median(values)
    if rule == ">=":
        return (values >= median).astype(np.int64)
    if rule == ">":
        return (values > median).astype(np.int64)
    raise ValueError(f"rule={rule!r}; expected '>=' or '>'")


def task_target(frame: pd.DataFrame, name: str, task: str) -> np.ndarray:
    """The target of one task: the popularity measure, or the original's class labels.

    Parameters
    ----------
    frame : DataFrame
        A validated table of dataset ``name``.
    name : {"trends", "popularity"}
    task : {"regression", "classification"}
    """
    spec = get_spec(name)
    values = frame[spec.target].to_numpy(dtype=float)
    if task == "regression":
        return values
    return class_target(values, spec.task(task).threshold_rule)


def load(
    name: str,
    data_dir: str | Path = "data",
    *,
    n_splits: int = 5,
    n_bins: int = 10,
) -> tuple[pd.DataFrame, Provenance]:
    """Load and validate one dataset.

    Parameters
    ----------
    name : {"trends", "popularity"}
    data_dir : path-like
        The folder holding the CSV file under its published name.
    n_splits, n_bins : int
        The cross-validation design the table must support (see :func:`validate_frame`).

    Returns
    -------
    frame : DataFrame
    provenance : Provenance

    Raises
    ------
    DataError
        When the file is missing or fails validation; the message names the file, the column
        and the first offending rows.
    """
    spec = get_spec(name)
    path = Path(data_dir) / spec.filename
    raw = _read_csv(path, spec)
    digest = file_sha256(path)
    issued: list[str] = []
    if digest != spec.sha256:
        message = (f"{path}: sha256 {digest[:12]}... differs from the published release "
                   f"({spec.sha256[:12]}...); results will not match the paper's")
        issued.append(message)
        warnings.warn(message, DataWarning, stacklevel=2)
    frame, more = validate_frame(raw, spec, source=str(path), n_splits=n_splits, n_bins=n_bins)
    provenance = Provenance(
        dataset=spec.name,
        path=str(path),
        sha256=digest,
        expected_sha256=spec.sha256,
        matches_release=digest == spec.sha256,
        n_rows=len(frame),
        n_columns=raw.shape[1],
        warnings=tuple(issued) + more,
    )
    return frame, provenance
