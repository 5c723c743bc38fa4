"""Figures of the data checks: drawn from the saved tables, one panel per dataset and measure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba

from study.checks_figures import CAPTIONS, forensics_pairs, univariate_effects
from study.figures import OKABE_ITO, WATERMARK, save_figure


def _univariate() -> pd.DataFrame:
    rows = []
    for dataset, variables in (("trends", ["Art_Style", "Medium"]),
                               ("popularity", ["Style", "Platform", "Creator_Type"])):
        for i, variable in enumerate(variables):
            for name, q in (("eta_squared", 0.5), ("cramers_v", 0.01 if i == 0 else 0.7)):
                rows.append({"dataset": dataset, "variable": variable, "effect": 0.01 * (i + 1),
                             "effect_name": name, "effect_ci_low": 0.0,
                             "effect_ci_high": 0.02 * (i + 1), "q_bh": q})
    return pd.DataFrame(rows)


def _pairs() -> pd.DataFrame:
    rows = []
    for dataset, cols in (("trends", ["a", "b", "c"]), ("popularity", ["x", "y"])):
        for i, a in enumerate(cols):
            for b in cols[i + 1:]:
                p = 1e-4 if (a, b) == ("a", "b") else 0.5
                rows.append({"dataset": dataset, "column_a": a, "column_b": b, "effect": -0.02,
                             "pvalue": p, "q_bh": p * 3})
    return pd.DataFrame(rows)


def test_univariate_effects_has_a_panel_per_dataset_and_measure(tmp_path):
    fig = univariate_effects(_univariate(), alpha=0.05)
    titles = sorted(ax.get_title(loc="left") for ax in fig.axes)
    assert len(titles) == 4 and any("popularity · Cramér's V" in t for t in titles)
    panel = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("popularity · η"))
    assert [t.get_text() for t in panel.get_yticklabels()] == ["Style", "Platform",
                                                              "Creator_Type"]
    # significant effects are filled in vermillion (the first variable's V in each dataset)
    red = to_rgba(OKABE_ITO["vermillion"])
    filled = sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
                 if len(c.get_facecolor()) and np.allclose(c.get_facecolor()[0], red))
    assert filled == 2
    paths = save_figure(fig, tmp_path / "univariate_effects")
    assert [p.suffix for p in paths] == [".pdf", ".png"]


def test_forensics_pairs_is_symmetric_and_marks_significant_pairs():
    fig = forensics_pairs(_pairs(), alpha=0.05, synthetic=True)
    heat = [ax for ax in fig.axes if ax.images]
    assert len(heat) == 2
    image = heat[0].images[0].get_array()
    np.testing.assert_allclose(image, np.asarray(image).T)
    assert image[0, 1] == 4.0  # -log10(1e-4)
    dots = heat[0].collections[0].get_offsets()
    assert len(dots) == 2  # (a, b) and (b, a)
    assert any(t.get_text() == WATERMARK for t in fig.texts)


def test_captions_take_alpha():
    for caption in CAPTIONS.values():
        assert "0.05" in caption.format(alpha=0.05)
