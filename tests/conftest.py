"""Shared fixtures: synthetic frames with the exact schemas, and the real files when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study.datasets import get_spec

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

_LEVELS = {
    "Artist_Name": [f"Bot{i}" for i in range(15)],
    "Art_Style": [f"Style{i}" for i in range(10)],
    "Medium": [f"Medium{i}" for i in range(10)],
    "Tools_Used": [f"Tool{i}" for i in range(5)],
    "Region": [f"Region{i}" for i in range(6)],
    "Art_Genre": [f"Genre{i}" for i in range(10)],
    "Platform": [f"Platform{i}" for i in range(10)],
    "Style": [f"Style{i}" for i in range(7)],
    "Creator_Type": ["Human", "AI", "Hybrid"],
}


def synthetic_frame(name: str, n: int = 400, *, seed: int = 0) -> pd.DataFrame:
    """A small table with the columns, dtypes and kinds of values of dataset ``name``."""
    rng = np.random.default_rng(seed)
    spec = get_spec(name)
    cols: dict[str, object] = {}
    for col in spec.columns:
        if col == "Artwork_ID":
            cols[col] = [f"ART-{i:05d}" for i in range(1, n + 1)]
        elif col == "Image_URL":
            cols[col] = [f"https://example.com/artwork/{i:05d}.jpg" for i in range(1, n + 1)]
        elif col == "Description":
            cols[col] = ["A constant description."] * n
        elif col == "Creation_Date":
            days = rng.integers(0, 730, size=n)
            cols[col] = (pd.Timestamp("2022-09-04") + pd.to_timedelta(days, unit="D")
                         ).strftime("%Y-%m-%d")
        elif col == "Platform" and name == "popularity":
            cols[col] = rng.choice([f"Site{i}" for i in range(5)], size=n)
        elif col in _LEVELS:
            cols[col] = rng.choice(_LEVELS[col], size=n)
        elif col == "Popularity_Score":
            cols[col] = np.round(rng.uniform(10, 5000, size=n), 2)
        elif col == "Engagement_Score":
            cols[col] = np.round(rng.uniform(0.1, 1.0, size=n), 2)
        elif col == "Price (USD)":
            cols[col] = np.round(rng.uniform(50, 5000, size=n), 2)
        else:
            cols[col] = rng.integers(0, 100000, size=n)
    return pd.DataFrame(cols)


@pytest.fixture
def make_frame():
    return synthetic_frame


def write_csv(frame: pd.DataFrame, directory: Path, name: str) -> Path:
    path = directory / get_spec(name).filename
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def real_data_dir() -> Path:
    spec_files = [get_spec(n).filename for n in ("trends", "popularity")]
    if not all((DATA_DIR / f).exists() for f in spec_files):
        pytest.skip("the real CSVs are not in data/ (see data/README.md)")
    return DATA_DIR
