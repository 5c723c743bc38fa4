"""Atomic file writes and table rendering (CSV, Markdown, LaTeX with booktabs).

Every file is written to a temporary sibling and renamed into place, so an interrupted run
or an error never leaves a half-written file where a finished one is expected.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["atomic_write_bytes", "atomic_write_text", "to_latex", "to_markdown", "write_json",
           "write_table"]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give it the permissions a plain open() would
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: object) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json) + "\n")


def _json(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 10 ** (digits + 2)):
            return f"{value:.{digits - 1}e}"
        if abs(value) >= 1:
            return f"{value:.{digits + 2}g}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if value is None:
        return ""
    return str(value)


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def to_markdown(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table, numbers to ``digits`` significant places."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    align = "|" + "|".join("---:" if _is_number(frame[c]) else ":---"
                           for c in frame.columns) + "|"
    body = ["| " + " | ".join(_cell(v, digits).replace("|", r"\|") for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, align, *body]) + "\n"


_LATEX_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                 "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "\\": r"\textbackslash{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_ESCAPE.get(ch, ch) for ch in text)


def to_latex(frame: pd.DataFrame, *, digits: int = 4, caption: str | None = None,
             label: str | None = None) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``), numbers right-aligned."""
    spec = "".join("r" if _is_number(frame[c]) else "l" for c in frame.columns)
    lines = []
    if caption or label:
        lines += [r"\begin{table}", r"\centering"]
        if caption:
            lines.append(rf"\caption{{{_tex(caption)}}}")
        if label:
            lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
              " & ".join(_tex(str(c)) for c in frame.columns) + r" \\", r"\midrule"]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_tex(_cell(v, digits)) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption or label:
        lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, directory: str | Path, name: str, *,
                formats: Iterable[str] = ("csv", "md", "tex"), digits: int = 4,
                caption: str | None = None) -> list[Path]:
    """Write ``frame`` as ``<directory>/<name>.csv`` (full precision), ``.md`` and ``.tex``.

    CSV floats are written with ``repr`` precision, so two runs with identical numbers give
    byte-identical files.
    """
    directory = Path(directory)
    written = []
    for fmt in formats:
        if fmt == "csv":
            text = frame.to_csv(index=False, lineterminator="\n")
        elif fmt == "md":
            text = to_markdown(frame, digits=digits)
        elif fmt == "tex":
            text = to_latex(frame, digits=digits, caption=caption)
        else:
            raise ValueError(f"formats: unknown format {fmt!r}; expected csv, md or tex")
        written.append(atomic_write_text(directory / f"{name}.{fmt}", text))
    return written
