"""Synthetic tables with the exact schemas of the two datasets, under H0 or a planted effect.

The study needs data whose truth is known: tables with the columns, dtypes and marginal
distributions of the two Kaggle files, where the target is either independent of every
feature (the null hypothesis H0, ``effect=0``) or depends on the features with a chosen
population R2. :func:`simulate` draws one such table, :func:`population_r2` and
:func:`population_auc` give what a perfect model could reach on it, and
:func:`write_demo_data` writes both tables under their published file names for the
study's demo mode (no real files needed).

Facts measured on the real files
--------------------------------
Measured once on the published releases (sha256 in :mod:`study.datasets`) and embedded
here as constants; the generator never reads the real files.

``trends`` (``ai_generated_art_trends_2024.csv``, 10,000 rows)

- ``Artwork_ID`` is ``ART-00001`` ... ``ART-10000`` and ``Image_URL`` is
  ``https://example.com/artwork/00001.jpg`` ..., both in row order.
- ``Description`` is one constant string (:data:`DESCRIPTION`).
- ``Artist_Name`` (15 levels), ``Art_Style`` (10), ``Medium`` (10), ``Tools_Used`` (5),
  ``Region`` (6), ``Art_Genre`` (10), ``Platform`` (10): level names and counts as in
  :data:`LEVEL_COUNTS`. Each is consistent with equal frequencies (chi-square p >= 0.05
  for all but ``Platform``, p = 0.048) and every pair of columns is consistent with
  independence (chi-square p > 0.01), so the columns are drawn independently with the
  measured relative frequencies.
- ``Creation_Date`` covers 730 days, 2022-09-04 to 2024-09-02 (``YYYY-MM-DD``),
  consistent with a uniform day (KS p = 0.55).
- ``Popularity_Score`` lies in 50.85..4999.62 with two decimals and is consistent with
  ``round(Uniform(50, 5000), 2)`` (KS p = 0.22; quartiles 1268, 2492, 3763).
- No missing values; no association of the target with any column (ANOVA p >= 0.23).

``popularity`` (``AI_Generated_Art_Popularity.csv``, 5,000 rows)

- ``Artwork_ID`` is ``ART_1`` ... ``ART_5000`` in row order.
- ``Platform`` (5 levels), ``Style`` (7), ``Creator_Type`` (3): names and counts in
  :data:`LEVEL_COUNTS`, pairwise independent.
- The counts are integers (``int64`` in the file), each consistent with an independent
  discrete uniform: ``Views`` 158..499958, ``Likes`` 32..99978, ``Shares`` 3..49966,
  ``Comments`` 1..19999, drawn on 100..500000, 10..100000, 0..50000, 0..20000 (the observed
  range widened by about one expected gap and rounded). ``Price (USD)`` 13.12..4998.26 with
  two decimals, drawn as ``round(Uniform(10, 5000), 2)``. All pairwise Spearman
  correlations are below 0.03, so the columns are independent; this reproduces the real
  table's ``Likes > Views`` in 9.8% of rows (independent uniforms give 10.0%).
- ``Engagement_Score`` takes the 91 values 0.10, 0.11, ..., 1.00; the two end values have
  about half the frequency of the others (27 and 23 rows against 55 on average), which is
  the signature of ``round(Uniform(0.1, 1.0), 2)`` (chi-square p = 0.03 against that model,
  p = 6e-5 against equal frequencies). It shows no association with any column (ANOVA
  p >= 0.16 on the categories, |Spearman| < 0.03 with the numbers). No missing values.

Both targets are therefore ``y = round(lo + (hi - lo) * U, 2)`` with ``U`` uniform on
(0, 1): ``(lo, hi) = (50, 5000)`` for trends and ``(0.1, 1.0)`` for popularity.

Null hypothesis and planted effects (a Gaussian copula)
-------------------------------------------------------
Every feature column is drawn as above, whatever the effect, from its own random stream
(keyed by the dataset's and the column's names), so one seed gives the same features for
every effect size and kind (common random numbers). The target is built from a latent
score ``s`` of the features and an independent standard normal noise ``e`` (its own
stream):

.. math::

    z = a\\,s + b\\,e, \\qquad b = \\sqrt{1 - a^2}, \\qquad U = G_a(z), \\qquad
    y = \\operatorname{round}(lo + (hi - lo)\\,U,\\ 2),

where ``G_a`` is the exact distribution function of ``z``. ``U`` is then exactly uniform
for every loading ``a``, so the target keeps its measured marginal whatever the effect,
and ``a = 0`` (``effect=0``) is H0: ``U = Phi(e)``, independent of every feature. The
loading ``a`` is solved (``scipy.optimize.brentq``, to 1e-12) so that the population R2 of
the best predictor ``E[y | X]`` of the *rounded* target equals ``effect``.

``effect_kind="category"`` (trends: ``Art_Style``; popularity: ``Style``)
    A graded shift of the target by the levels of one column. The levels, in alphabetical
    order, get evenly spaced scores, standardised to mean 0 and variance 1 under the
    measured level frequencies ``p_k`` (trends: ``Abstract`` lowest ... ``Surrealism``
    highest). ``z`` is a normal mixture, ``G_a(z) = sum_k p_k Phi((z - a s_k) / b)``, and

    .. math::

        E[U \\mid k] = \\sum_j p_j\\,\\Phi\\!\\left(\\frac{a (s_k - s_j)}{b\\sqrt 2}\\right),
        \\qquad R^2_U = 12 \\sum_k p_k (E[U \\mid k] - 1/2)^2 .

    As ``a -> 1`` the levels occupy disjoint slices of the target's range, so the effect
    is bounded by ``1 - sum_k p_k^3`` (0.990 for trends, 0.980 for popularity; see
    :func:`max_effect`).
``effect_kind="ratio"`` (popularity only, its default)
    Engagement rises with ``Likes / Views``: ``s = Phi^{-1}(F(Likes / Views))`` with ``F``
    the closed-form distribution function of the ratio of the two independent uniforms
    (the population rank of the ratio), so ``s`` and ``z`` are standard normal,
    ``G_a = Phi`` and, on the continuous scale,
    ``R2_U = (6 / pi) * arcsin(a^2 / 2)`` (the Pearson-Spearman relation); any effect
    below 1 is reachable.

Population values
-----------------
:func:`population_r2` evaluates ``Var(E[y|X]) / Var(y)`` for the rounded target. The
variance of ``y`` is exact (from its discrete distribution). For popularity (91 values)
``E[y | X] = 0.10 + 0.01 * sum_j P(U >= c_j | X)`` is exact, with ``c_j`` the 90 cut
points of the rounding and ``P(U >= c | s) = Phi((a s - G_a^{-1}(c)) / b)``; for trends
(495,001 values) ``E[y | X] = lo + (hi - lo) E[U | X]`` ignores the rounding, whose bias
in ``E[y | X]`` is of order ``0.01**2 / 12`` times the density's jumps, below 1e-8. Over
the features the expectation is a finite sum over the levels (``category``) or a
trapezoid rule on 8193 equally spaced points of ``s`` in [-9, 9] with normal weights
(``ratio``; error below 1e-12, checked against the closed form).

:func:`population_auc` is the AUC of the best classifier ``P(class 1 | X)`` for the
original's class (``y >= median`` for trends, ``y > median`` for popularity, taken at the
population median of ``y``: 2525.00 and 0.55). ``P(class 1 | X)`` is increasing in
``s``, so the AUC is ``P(s_1 > s_0) + P(s_1 = s_0) / 2`` for a random member of each
class, evaluated with the same finite sum or quadrature as the R2 (no Monte Carlo).

Randomness comes only from ``numpy.random.SeedSequence`` children of ``random_state``; no
global random state is read or changed.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special

from study.datasets import DATASETS, get_spec

__all__ = [
    "DEFAULT_EFFECT_KIND",
    "DESCRIPTION",
    "EFFECT_KINDS",
    "LEVEL_COUNTS",
    "conditional_mean",
    "max_effect",
    "population_auc",
    "population_r2",
    "simulate",
    "write_demo_data",
]

# ----------------------------------------------------------------------------------------
# Measured facts (see the module docstring)

#: Level names and their counts in the real files, per dataset and column.
LEVEL_COUNTS: dict[str, dict[str, dict[str, int]]] = {
    "trends": {
        "Artist_Name": {
            "AIArtist123": 657, "AbstractoBot": 665, "ArtBreeder": 675, "DALL-E": 691,
            "DaVinciNet": 681, "DeepArt": 678, "DeepDream": 649, "GANPaint": 668,
            "GenerativeGenius": 619, "MidJourney": 694, "MonaBot": 656, "NeoSurrealist": 678,
            "PicassoAI": 664, "RenoirBot": 666, "Vincent": 659,
        },
        "Art_Style": {
            "Abstract": 949, "Conceptual": 969, "Cubism": 1050, "Expressionism": 1021,
            "Futurism": 1016, "Impressionism": 996, "Minimalism": 995, "Pop Art": 1008,
            "Realism": 1022, "Surrealism": 974,
        },
        "Medium": {
            "3D Model": 958, "Acrylic Paint": 1025, "Charcoal": 983, "Collage": 998,
            "Digital": 999, "Ink": 959, "Mixed Media": 1041, "Oil Paint": 979,
            "Pencil Sketch": 1048, "Watercolor": 1010,
        },
        "Tools_Used": {
            "ArtBreeder": 1972, "DALL-E": 1982, "DeepDream": 2032, "GANPaint": 2022,
            "MidJourney": 1992,
        },
        "Region": {
            "Africa": 1636, "Asia": 1648, "Europe": 1700, "North America": 1659,
            "Oceania": 1629, "South America": 1728,
        },
        "Art_Genre": {
            "Abstract": 1030, "Conceptual": 996, "Fantasy": 1007, "Landscape": 980,
            "Mythology": 997, "Nature": 1016, "Portrait": 1049, "Sci-Fi": 945,
            "Still Life": 986, "Urban": 994,
        },
        "Platform": {
            "ArtStation": 1039, "Behance": 951, "DeviantArt": 950, "Dribbble": 1086,
            "Flickr": 1025, "Instagram": 1017, "Pinterest": 964, "Reddit": 969,
            "Tumblr": 995, "Twitter": 1004,
        },
    },
    "popularity": {
        "Platform": {
            "DeviantArt": 1057, "Foundation": 1056, "Instagram": 969, "Opensea": 982,
            "SuperRare": 936,
        },
        "Style": {
            "Abstract": 716, "Cyberpunk": 734, "Futuristic": 672, "Minimalist": 702,
            "Pixel Art": 753, "Portrait": 701, "Surreal": 722,
        },
        "Creator_Type": {"AI Model": 1694, "Hybrid": 1627, "Individual": 1679},
    },
}

#: The constant ``Description`` of the trends table.
DESCRIPTION = (
    "A mesmerizing piece of art that blends traditional and modern techniques, showcasing "
    "the limitless possibilities of AI in creative expression."
)

_DATE_START = "2022-09-04"
_DATE_DAYS = 730  # 2022-09-04 + 0..729 days; the last is 2024-09-02

#: Inclusive bounds of the integer counts (discrete uniforms) of the popularity table.
_COUNT_BOUNDS: dict[str, tuple[int, int]] = {
    "Views": (100, 500_000),
    "Likes": (10, 100_000),
    "Shares": (0, 50_000),
    "Comments": (0, 20_000),
}
_PRICE_BOUNDS = (10.0, 5000.0)  # round(Uniform(10, 5000), 2)
_DECIMALS = 2


@dataclass(frozen=True)
class _Target:
    """``y = round(lo + (hi - lo) * U, decimals)`` with ``U`` uniform on (0, 1)."""

    lo: float
    hi: float
    decimals: int = _DECIMALS

    @property
    def width(self) -> float:
        return self.hi - self.lo

    @property
    def step(self) -> float:
        return 10.0 ** -self.decimals

    @property
    def n_steps(self) -> int:
        return round(self.width / self.step)

    def values(self) -> np.ndarray:
        """The grid ``lo, lo + step, ..., hi``."""
        return np.round(self.lo + self.step * np.arange(self.n_steps + 1), self.decimals)

    def cuts(self) -> np.ndarray:
        """``c_j``: ``y >= value j`` exactly when ``U >= c_j`` (j = 1..n_steps)."""
        j = np.arange(1, self.n_steps + 1)
        return (j - 0.5) * self.step / self.width

    def probabilities(self) -> np.ndarray:
        edges = np.concatenate([[0.0], self.cuts(), [1.0]])
        return np.diff(edges)

    def mean_var(self) -> tuple[float, float]:
        values, probs = self.values(), self.probabilities()
        mean = float(probs @ values)
        return mean, float(probs @ (values - mean) ** 2)

    def transform(self, u: np.ndarray) -> np.ndarray:
        return np.round(self.lo + self.width * np.clip(u, 0.0, 1.0), self.decimals)

    def class_cut(self, rule: str) -> float:
        """``c``: the class ``y >= median`` (or ``y > median``) is ``U >= c``.

        The median is the population median of the rounded target.
        """
        cuts = self.cuts()
        cdf = np.concatenate([cuts, [1.0]])  # P(y <= value j), j = 0..n_steps
        j_med = int(np.searchsorted(cdf, 0.5 - 1e-12))
        if rule == ">=":
            return float(cuts[j_med - 1]) if j_med > 0 else 0.0
        if rule == ">":
            return float(cuts[j_med]) if j_med < len(cuts) else 1.0
        raise ValueError(f"rule={rule!r}; expected '>=' or '>'")

_TARGETS: dict[str, _Target] = {
    "trends": _Target(50.0, 5000.0),
    "popularity": _Target(0.1, 1.0),
}
@functools.cache
def _target_moments(name: str) -> tuple[float, float]:
    """Exact mean and variance of the rounded target (from its discrete distribution)."""
    return _TARGETS[name].mean_var()


# grids at most this long get an exact E[y|X] (popularity); longer ones the continuous one
_EXACT_GRID_MAX = 2000

#: Planted effects available per dataset, and the column(s) each acts through.
EFFECT_KINDS: dict[str, dict[str, tuple[str, ...]]] = {
    "trends": {"category": ("Art_Style",)},
    "popularity": {"ratio": ("Likes", "Views"), "category": ("Style",)},
}
#: The effect used when ``effect_kind`` is not given.
DEFAULT_EFFECT_KIND: dict[str, str] = {"trends": "category", "popularity": "ratio"}

_A_MAX = 1.0 - 1e-9  # the largest latent loading used (b = 4.5e-5)
_N_NODES = 8193  # equally spaced nodes of the continuous score (ratio kind) ...
_NODE_SPAN = 9.0  # ... on [-9, 9], with normal weights (trapezoid rule)


# ----------------------------------------------------------------------------------------
# Randomness


def _base_seed(random_state: int | np.random.SeedSequence | np.random.Generator,
               ) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63, size=4).tolist())
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.SeedSequence(int(random_state))
    raise TypeError(
        f"random_state={random_state!r}; expected an int, a numpy SeedSequence or Generator "
        "(a seed is required: simulated tables must be reproducible)"
    )


def _stream(base: np.random.SeedSequence, name: str) -> np.random.Generator:
    """The generator of one named stream; ``base`` is not changed (no spawn counter)."""
    child = np.random.SeedSequence(
        base.entropy,
        spawn_key=(*base.spawn_key, zlib.crc32(name.encode())),
        pool_size=base.pool_size,
    )
    return np.random.default_rng(child)


# ----------------------------------------------------------------------------------------
# Effects: the latent score, its distribution, and the population values


def _kind(name: str, effect_kind: str | None) -> str:
    get_spec(name)
    kinds = EFFECT_KINDS[name]
    kind = DEFAULT_EFFECT_KIND[name] if effect_kind is None else effect_kind
    if kind not in kinds:
        raise ValueError(
            f"effect_kind={effect_kind!r} is not available for {name!r}; expected one of "
            + ", ".join(kinds)
        )
    return kind


def _level_probs(name: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    counts = LEVEL_COUNTS[name][column]
    levels = np.array(sorted(counts), dtype=object)
    freq = np.array([counts[k] for k in levels], dtype=float)
    return levels, freq / freq.sum()


@functools.cache
def _category_scores(name: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised evenly spaced scores of the levels (alphabetical order) and their p."""
    _, p = _level_probs(name, column)
    raw = np.arange(p.size, dtype=float)
    raw -= p @ raw
    return raw / math.sqrt(p @ raw**2), p


def _ratio_cdf(ratio: np.ndarray) -> np.ndarray:
    """``P(Likes / Views <= r)`` for independent uniform Likes and Views (closed form).

    The integer uniforms on ``lo..hi`` are taken as continuous on ``lo - 0.5 .. hi + 0.5``.
    """
    l0, l1 = (x + d for x, d in zip(_COUNT_BOUNDS["Likes"], (-0.5, 0.5), strict=True))
    v0, v1 = (x + d for x, d in zip(_COUNT_BOUNDS["Views"], (-0.5, 0.5), strict=True))
    dl = l1 - l0

    def gamma(x: np.ndarray) -> np.ndarray:  # integral of clip((x - l0) / dl, 0, 1)
        return np.where(x <= l0, 0.0,
                        np.where(x <= l1, (x - l0) ** 2 / (2 * dl), dl / 2 + (x - l1)))

    r = np.maximum(np.asarray(ratio, dtype=float), 1e-300)
    return np.clip((gamma(r * v1) - gamma(r * v0)) / (r * (v1 - v0)), 0.0, 1.0)


def _ratio_score(likes: np.ndarray, views: np.ndarray) -> np.ndarray:
    tiny = 1e-15
    f = _ratio_cdf(np.asarray(likes, float) / np.asarray(views, float))
    return special.ndtri(np.clip(f, tiny, 1 - tiny))


@dataclass(frozen=True)
class _Latent:
    """The distribution of the score ``s`` (nodes and weights) and of ``z = a s + b e``."""

    nodes: np.ndarray  # sorted values of s
    weights: np.ndarray
    mixture: bool  # True: z is a finite normal mixture; False: s, z standard normal

    def cdf(self, z: np.ndarray, a: float) -> np.ndarray:
        """``G_a(z)``, the distribution function of ``z``."""
        if not self.mixture or a == 0.0:
            return special.ndtr(z)
        b = math.sqrt(1.0 - a * a)
        z = np.asarray(z, dtype=float)
        return special.ndtr((z[..., None] - a * self.nodes) / b) @ self.weights

    def quantile(self, c: np.ndarray, a: float) -> np.ndarray:
        """``G_a^{-1}(c)`` (bisection for the mixture, to 1e-13)."""
        c = np.asarray(c, dtype=float)
        if not self.mixture or a == 0.0:
            return special.ndtri(c)
        lo = np.full(c.shape, -40.0)
        hi = np.full(c.shape, 40.0)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid, a) < c
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    def mean_u(self, a: float, s: np.ndarray | None = None) -> np.ndarray:
        """``E[U | s]`` at the nodes, or at the scores ``s`` (closed form)."""
        s = self.nodes if s is None else np.asarray(s, dtype=float)
        if a == 0.0:
            return np.full(s.shape, 0.5)
        if not self.mixture:
            return special.ndtr(a * s / math.sqrt(2.0 - a * a))
        b = math.sqrt(1.0 - a * a)
        diff = s[:, None] - self.nodes[None, :]
        return special.ndtr(a * diff / (b * math.sqrt(2.0))) @ self.weights

    def survival(self, c: np.ndarray, a: float, s: np.ndarray | None = None) -> np.ndarray:
        """``P(U >= c_j | s_i)`` at the nodes or at the scores ``s``, shape (len(s), len(c))."""
        s = self.nodes if s is None else np.asarray(s, dtype=float)
        c = np.atleast_1d(np.asarray(c, dtype=float))
        if a == 0.0:
            return np.broadcast_to(1.0 - c, (s.size, c.size))
        b = math.sqrt(1.0 - a * a)
        return special.ndtr((a * s[:, None] - self.quantile(c, a)[None, :]) / b)


@functools.cache
def _latent(name: str, kind: str) -> _Latent:
    if kind == "category":
        scores, p = _category_scores(name, EFFECT_KINDS[name][kind][0])
        order = np.argsort(scores)
        return _Latent(scores[order], p[order], mixture=True)
    s = np.linspace(-_NODE_SPAN, _NODE_SPAN, _N_NODES)
    w = np.exp(-0.5 * s * s)
    return _Latent(s, w / w.sum(), mixture=False)


def _conditional_mean(name: str, kind: str, a: float,
                      s: np.ndarray | None = None) -> np.ndarray:
    """``E[y | s]`` at the nodes of the score, or at the scores ``s``."""
    target, latent = _TARGETS[name], _latent(name, kind)
    if target.n_steps <= _EXACT_GRID_MAX:
        return target.lo + target.step * latent.survival(target.cuts(), a, s).sum(axis=1)
    return target.lo + target.width * latent.mean_u(a, s)


def _r2_of_loading(name: str, kind: str, a: float) -> float:
    if a == 0.0:
        return 0.0
    latent = _latent(name, kind)
    m = _conditional_mean(name, kind, a)
    _, var_y = _target_moments(name)
    mean = latent.weights @ m
    return float(latent.weights @ (m - mean) ** 2 / var_y)


def _auc_of_loading(name: str, kind: str, a: float) -> float:
    if a == 0.0:
        return 0.5
    target, latent = _TARGETS[name], _latent(name, kind)
    rule = get_spec(name).task("classification").threshold_rule
    pi = latent.survival([target.class_cut(rule)], a)[:, 0]
    w = latent.weights
    pos, neg = w * pi, w * (1.0 - pi)
    pos, neg = pos / pos.sum(), neg / neg.sum()
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
    return float(pos @ (below + 0.5 * neg))


def _check_effect(effect: float) -> float:
    effect = float(effect)
    if not math.isfinite(effect) or effect < 0.0 or effect >= 1.0:
        raise ValueError(f"effect={effect!r} is a population R2; expected 0 <= effect < 1")
    return effect


def max_effect(name: str, effect_kind: str | None = None) -> float:
    """The largest population R2 that an effect kind can plant.

    Parameters
    ----------
    name : {"trends", "popularity"}
    effect_kind : str, optional
        One of :data:`EFFECT_KINDS` ``[name]``; default :data:`DEFAULT_EFFECT_KIND` ``[name]``.

    Returns
    -------
    float
        The population R2 at the latent loading ``a = 1 - 1e-9``. For ``category`` it is
        close to ``1 - sum_k p_k**3`` (the levels fill disjoint slices of the target's
        range); for ``ratio`` it is 1 up to 1e-4.
    """
    kind = _kind(name, effect_kind)
    return _max_effect(name, kind)


@functools.cache
def _max_effect(name: str, kind: str) -> float:
    return _r2_of_loading(name, kind, _A_MAX)


@functools.lru_cache(maxsize=512)
def _loading(name: str, kind: str, effect: float) -> float:
    """The latent loading ``a`` whose population R2 is ``effect``."""
    if effect == 0.0:
        return 0.0
    top = _max_effect(name, kind)
    if effect >= top:
        raise ValueError(
            f"effect={effect!r} is out of reach for dataset {name!r} with "
            f"effect_kind={kind!r}: its population R2 is below {top:.4f}"
        )
    return float(optimize.brentq(lambda a: _r2_of_loading(name, kind, a) - effect,
                                 0.0, _A_MAX, xtol=1e-12, rtol=1e-12))


def population_r2(name: str, effect: float, *, effect_kind: str | None = None) -> float:
    """Population R2 of the best predictor ``E[y | X]`` of a simulated table's target.

    Computed from the construction (see the module docstring): the latent loading is
    solved from ``effect`` and the R2 of the rounded target is evaluated forward, in
    closed form over the levels (``category``) or by a trapezoid rule on 8193 points over
    the continuous score (``ratio``); no Monte Carlo. It equals ``effect`` up to the solver's
    tolerance (1e-10), which makes it a check of the parameterisation.

    Parameters
    ----------
    name : {"trends", "popularity"}
    effect : float
        The planted effect, ``0 <= effect < max_effect(name, effect_kind)``.
    effect_kind : str, optional
        See :data:`EFFECT_KINDS`; default :data:`DEFAULT_EFFECT_KIND` ``[name]``.

    Returns
    -------
    float
        ``Var(E[y|X]) / Var(y)``; 0 under H0.
    """
    kind = _kind(name, effect_kind)
    return _r2_of_loading(name, kind, _loading(name, kind, _check_effect(effect)))


def population_auc(name: str, effect: float, *, effect_kind: str | None = None) -> float:
    """Population ROC AUC of the best classifier for the original's class labels.

    The class is ``y >= median`` (trends) or ``y > median`` (popularity), at the population
    median of the rounded target (2525.00 and 0.55). The best score ``P(class 1 | X)`` is
    increasing in the latent score ``s``, so the AUC is ``P(s1 > s0) + P(s1 = s0) / 2`` for
    ``s1`` from class 1 and ``s0`` from class 0: an exact finite sum over the levels
    (``category``) or a trapezoid-type rule on 8193 points of ``s`` (``ratio``; the
    discretisation error is below 2e-7).

    Parameters
    ----------
    name : {"trends", "popularity"}
    effect : float
        The planted effect as a population R2 (see :func:`population_r2`).
    effect_kind : str, optional
        See :data:`EFFECT_KINDS`; default :data:`DEFAULT_EFFECT_KIND` ``[name]``.

    Returns
    -------
    float
        In [0.5, 1); 0.5 under H0.
    """
    kind = _kind(name, effect_kind)
    return _auc_of_loading(name, kind, _loading(name, kind, _check_effect(effect)))


def _row_scores(name: str, kind: str, frame: pd.DataFrame) -> np.ndarray:
    columns = EFFECT_KINDS[name][kind]
    if kind == "category":
        levels, _ = _level_probs(name, columns[0])
        scores, _ = _category_scores(name, columns[0])
        lookup = dict(zip(levels, scores, strict=True))
        values = frame[columns[0]].map(lookup)
        if values.isna().any():
            bad = frame.loc[values.isna(), columns[0]].iloc[0]
            raise ValueError(f"column {columns[0]!r} has a level {bad!r} unknown to the "
                             "simulation")
        return values.to_numpy(dtype=float)
    return _ratio_score(frame["Likes"].to_numpy(float), frame["Views"].to_numpy(float))


def conditional_mean(name: str, frame: pd.DataFrame, *, effect: float,
                     effect_kind: str | None = None) -> np.ndarray:
    """The best predictor ``E[y | X]`` of the target, row by row (the oracle).

    Parameters
    ----------
    name : {"trends", "popularity"}
    frame : DataFrame
        A table of dataset ``name`` (e.g. from :func:`simulate`).
    effect : float
        The planted effect (population R2) the table was simulated with.
    effect_kind : str, optional
        See :data:`EFFECT_KINDS`.

    Returns
    -------
    ndarray of float
        Its population R2 against simulated targets is :func:`population_r2`; under H0 it
        is the constant mean of the target.
    """
    kind = _kind(name, effect_kind)
    a = _loading(name, kind, _check_effect(effect))
    return _conditional_mean(name, kind, a, _row_scores(name, kind, frame))


# ----------------------------------------------------------------------------------------
# Tables


@functools.cache
def _date_strings() -> np.ndarray:
    days = pd.date_range(_DATE_START, periods=_DATE_DAYS, freq="D")
    return np.asarray(days.strftime("%Y-%m-%d"), dtype=object)


def _ids(template: str, n: int) -> list[str]:
    return [template.format(i) for i in range(1, n + 1)]


def _categorical(name: str, column: str, n: int, base: np.random.SeedSequence) -> np.ndarray:
    levels, p = _level_probs(name, column)
    codes = _stream(base, f"{name}:{column}").choice(levels.size, size=n, p=p)
    return levels[codes]


def _features(name: str, n: int, base: np.random.SeedSequence) -> dict[str, object]:
    spec = get_spec(name)
    cols: dict[str, object] = {}
    for col in spec.columns:
        if col == spec.target:
            continue
        if name == "trends" and col == "Artwork_ID":
            cols[col] = _ids("ART-{:05d}", n)
        elif col == "Image_URL":
            cols[col] = _ids("https://example.com/artwork/{:05d}.jpg", n)
        elif name == "popularity" and col == "Artwork_ID":
            cols[col] = _ids("ART_{}", n)
        elif col == "Description":
            cols[col] = [DESCRIPTION] * n
        elif col == "Creation_Date":
            days = _stream(base, f"{name}:{col}").integers(0, _DATE_DAYS, size=n)
            cols[col] = _date_strings()[days]
        elif col in LEVEL_COUNTS[name]:
            cols[col] = _categorical(name, col, n, base)
        elif col in _COUNT_BOUNDS:
            lo, hi = _COUNT_BOUNDS[col]
            draws = _stream(base, f"{name}:{col}").integers(lo, hi, size=n, endpoint=True)
            cols[col] = draws.astype(np.float64)
        elif col == "Price (USD)":
            lo, hi = _PRICE_BOUNDS
            price = _stream(base, f"{name}:{col}").uniform(lo, hi, size=n)
            cols[col] = np.round(price, _DECIMALS)
        else:  # pragma: no cover - every column of the specs is handled above
            raise AssertionError(f"no generator for column {col!r} of {name!r}")
    return cols


def simulate(
    name: str,
    *,
    n: int | None = None,
    effect: float = 0.0,
    effect_kind: str | None = None,
    random_state: int | np.random.SeedSequence | np.random.Generator,
) -> pd.DataFrame:
    """Draw a table with the schema of dataset ``name``, under H0 or a planted effect.

    Parameters
    ----------
    name : {"trends", "popularity"}
    n : int, optional
        Rows; default the real file's (10,000 and 5,000). Identifiers follow the real
        templates (``ART-00001``, ``ART_1``, ...) in row order. The study's CV needs at
        least ``n_splits * n_bins`` rows (50 by default) to validate.
    effect : float
        The population R2 of the best predictor of the target, ``0 <= effect <
        max_effect(name, effect_kind)``; 0 is H0 (the target is independent of every
        column and drawn from its measured marginal).
    effect_kind : str, optional
        How the effect is planted: ``"category"`` (a graded shift by ``Art_Style`` for
        trends, ``Style`` for popularity) or ``"ratio"`` (popularity only: engagement
        rises with the rank of ``Likes / Views``). Default: :data:`DEFAULT_EFFECT_KIND`.
    random_state : int, SeedSequence or Generator
        Required. Each column draws from its own child stream of the seed, keyed by the
        dataset's and the column's names, so the features do not depend on ``effect`` or
        ``effect_kind``. A ``SeedSequence`` is not consumed (the same object gives the
        same table); a ``Generator`` is advanced.

    Returns
    -------
    DataFrame
        Exactly the columns, order and dtypes that :func:`study.datasets.load` returns for
        the real file: text columns as pandas' default string dtype, the target and the
        numeric features as ``float64`` (the counts are integer-valued; the loader casts
        the file's ``int64`` to ``float64``). It passes
        :func:`study.datasets.validate_frame` without warnings when ``n >= 50``.

    Notes
    -----
    The target is ``round(lo + (hi - lo) * U, 2)`` with ``U = G_a(a * s + sqrt(1 - a**2)
    * e)`` exactly uniform (see the module docstring), so its marginal is the measured
    one for every effect; ``a`` is solved so that the population R2 is ``effect``.
    """
    spec = get_spec(name)
    kind = _kind(name, effect_kind)
    effect = _check_effect(effect)
    n = spec.n_rows if n is None else int(n)
    if n < 1:
        raise ValueError(f"n={n!r}; expected a positive number of rows")
    base = _base_seed(random_state)
    a = _loading(name, kind, effect)

    cols = _features(name, n, base)
    noise = _stream(base, f"{name}:{spec.target}:noise").standard_normal(n)
    if a == 0.0:
        u = special.ndtr(noise)
    else:
        frame_for_score = pd.DataFrame({c: cols[c] for c in EFFECT_KINDS[name][kind]})
        s = _row_scores(name, kind, frame_for_score)
        z = a * s + math.sqrt(1.0 - a * a) * noise
        u = _latent(name, kind).cdf(z, a)
    cols[spec.target] = _TARGETS[name].transform(u)

    data = {}
    for col in spec.columns:
        values = cols[col]
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            data[col] = pd.Series(values, dtype=np.float64)
        else:
            data[col] = pd.Series(values, dtype="str")
    return pd.DataFrame(data, columns=list(spec.columns))


# ----------------------------------------------------------------------------------------
# Demo data


def _as_file_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The table as the published CSV holds it: counts as integers."""
    out = frame.copy()
    for col in get_spec(name).numeric:
        if col in _COUNT_BOUNDS:
            out[col] = out[col].to_numpy().astype(np.int64)
    return out


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, lineterminator="\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_demo_data(
    directory: str | Path,
    *,
    random_state: int | np.random.SeedSequence | np.random.Generator,
    effect: float = 0.0,
) -> dict[str, Path]:
    """Write both simulated tables under their published file names, for the demo mode.

    Parameters
    ----------
    directory : path-like
        Created if missing. Each file is written to a temporary file in the same folder
        and moved into place with :func:`os.replace`, so a reader never sees half a file.
    random_state : int, SeedSequence or Generator
        Dataset ``name`` is simulated from the child stream keyed by ``"demo:" + name``
        of this seed, so the two tables are independent and each is reproducible.
    effect : float
        The planted population R2, with each dataset's default effect kind; 0 (H0) by
        default, since the demo shows the study's machinery, not a finding.

    Returns
    -------
    dict of str to Path
        The file written for each dataset. :func:`study.datasets.load` reads it back as
        the frame :func:`simulate` returned (counts are written as integers, as in the
        real files; only the sha256 differs from the release, with a warning).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    base = _base_seed(random_state)
    written: dict[str, Path] = {}
    for name, spec in DATASETS.items():
        seed = _demo_seed(base, name)
        frame = simulate(name, effect=effect, random_state=seed)
        path = directory / spec.filename
        _write_atomic(_as_file_frame(name, frame), path)
        written[name] = path
    return written


def _demo_seed(base: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    return np.random.SeedSequence(
        base.entropy,
        spawn_key=(*base.spawn_key, zlib.crc32(f"demo:{name}".encode())),
        pool_size=base.pool_size,
    )
