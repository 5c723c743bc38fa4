"""Atomic writes and table rendering."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from study.io import atomic_write_bytes, to_latex, to_markdown, write_table


def test_atomic_write_leaves_no_partial_file_on_error(tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_write_uses_ordinary_permissions(tmp_path):
    path = atomic_write_bytes(tmp_path / "a" / "b.txt", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_tables_in_three_formats(tmp_path):
    frame = pd.DataFrame({"model": ["ridge", "a_b"], "p": [0.01234, np.nan],
                          "ok": [True, False], "n": [3, 4]})
    paths = write_table(frame, tmp_path, "t")
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex"]
    assert pd.read_csv(paths[0])["model"].tolist() == ["ridge", "a_b"]
    md = to_markdown(frame)
    assert md.splitlines()[1] == "|:---|---:|:---|---:|"
    assert "| ridge | 0.0123 | yes | 3 |" in md and "| a_b |  | no | 4 |" in md
    tex = to_latex(frame)
    assert "\\toprule" in tex and "a\\_b" in tex and tex.count("\\\\") == 3
    with pytest.raises(ValueError, match="formats"):
        write_table(frame, tmp_path, "t", formats=("xlsx",))
