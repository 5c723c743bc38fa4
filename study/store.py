"""Saved results: one cell's frozen records written to disk and read back, atomically.

A cell (one dataset, task and model) is saved as ``<key>.npz`` (every array, raw
distributions included) and ``<key>.json`` (every scalar, and which arrays belong to which
record). The JSON is written last, so its presence marks a complete cell: an interrupted
compute stage leaves at most an orphaned ``.npz`` that the next run overwrites.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from study.intervals import BootstrapResult
from study.io import atomic_write_bytes, write_json
from study.results import CVResult, PermutationResult

__all__ = ["load_cell", "save_cell"]

_TYPES = {"CVResult": CVResult, "PermutationResult": PermutationResult,
          "BootstrapResult": BootstrapResult}


def _flatten(record: Any, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Split a dataclass into JSON scalars and named arrays."""
    meta: dict[str, Any] = {"__type__": type(record).__name__}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        name = f"{prefix}.{field.name}"
        if isinstance(value, np.ndarray):
            arrays[name] = value
            meta[field.name] = {"__array__": name}
        elif isinstance(value, dict) and value and all(
                isinstance(v, np.ndarray) for v in value.values()):
            meta[field.name] = {"__arrays__": {}}
            for key, arr in value.items():
                arrays[f"{name}.{key}"] = arr
                meta[field.name]["__arrays__"][key] = f"{name}.{key}"
        elif isinstance(value, np.generic):
            meta[field.name] = value.item()
        else:
            meta[field.name] = value
    return meta


def _restore(meta: dict[str, Any], arrays: Any) -> Any:
    cls = _TYPES[meta["__type__"]]
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in meta:
            continue
        value = meta[field.name]
        if isinstance(value, dict) and "__array__" in value:
            value = arrays[value["__array__"]]
        elif isinstance(value, dict) and "__arrays__" in value:
            value = {k: arrays[v] for k, v in value["__arrays__"].items()}
        kwargs[field.name] = value
    return cls(**kwargs)


def save_cell(path_stem: str | Path, records: dict[str, Any], info: dict[str, Any]) -> Path:
    """Save named records (``cv``, ``perm``, ``bootstrap.<metric>``, ...) of one cell.

    Parameters
    ----------
    path_stem : path-like
        ``<stem>.npz`` and ``<stem>.json`` are written.
    records : dict of str to dataclass or None
        The frozen results; ``None`` entries are recorded as absent.
    info : dict
        JSON-serialisable facts about the cell (names, settings, timings).
    """
    stem = Path(path_stem)
    arrays: dict[str, np.ndarray] = {}
    meta = {name: None if rec is None else _flatten(rec, name, arrays)
            for name, rec in records.items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(stem.with_suffix(".npz"), buffer.getvalue())
    return write_json(stem.with_suffix(".json"), {"info": info, "records": meta})


def load_cell(path_stem: str | Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Read back a saved cell as ``(records, info)``, or ``None`` when it is incomplete."""
    stem = Path(path_stem)
    meta_path, npz_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
    if not meta_path.exists() or not npz_path.exists():
        return None
    try:
        payload = json.loads(meta_path.read_text())
        with np.load(npz_path, allow_pickle=False) as arrays:
            records = {name: None if meta is None else _restore(meta, arrays)
                       for name, meta in payload["records"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: treated as not computed, recomputed and overwritten
    return records, payload["info"]
