"""Render the study's outputs from saved results: tables, figures, report and manifest.

Nothing here fits a model. :func:`render` reads the cells that the compute stage saved and
writes ``<out>/tables/*.{csv,md,tex}``, the figures (``<out>/*.pdf`` and ``.png``), and
``<out>/report.md``; :func:`write_manifest` writes ``<out>/manifest.json``.
"""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from study import __version__
from study.config import Config, digest
from study.inference import build_pvalue_table
from study.io import atomic_write_text, write_json, write_table

if TYPE_CHECKING:
    from study.run_all import ComputedCell, StudyData

__all__ = ["compute_replication", "fold_score_table", "headline_text", "load_replication",
           "render", "write_manifest"]

_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "statsmodels", "matplotlib",
              "seaborn", "joblib")


# ----------------------------------------------------------------------------------------
# Replication (cached like a cell: it refits the original's forests)


def _replication_path(config: Config, data: StudyData, out: Path) -> Path:
    key = digest(config.replication, sorted(config.datasets),
                 [data.provenance[d].sha256 for d in sorted(config.datasets)], __version__)
    return out / "cache" / f"replication-{key}.csv"


def compute_replication(config: Config, data: StudyData, out: Path) -> pd.DataFrame | None:
    """The original notebook's numbers next to ours (``None`` when skipped).

    Skipped on synthetic data (the original's numbers are the real files') and when the
    configuration says ``replication = "none"``; ``"linear"`` leaves out the forests, whose
    fits on the one-hot identifiers take minutes.
    """
    if data.synthetic or config.replication == "none":
        return None
    path = _replication_path(config, data, out)
    if path.exists():
        return pd.read_csv(path)
    from study.replicate import replicate_original, replication_frame

    models = None if config.replication == "all" else ["ridge", "logistic", "dummy"]
    table = replication_frame(replicate_original(data.frames, models=models))
    table = table.drop(columns=["fit_s"])  # timings go to the manifest, not the table
    atomic_write_text(path, table.to_csv(index=False, lineterminator="\n"))
    return table


def load_replication(config: Config, data: StudyData, out: Path) -> pd.DataFrame | None:
    """The saved replication table; a requested but missing one is a clear error."""
    if data.synthetic or config.replication == "none":
        return None
    path = _replication_path(config, data, out)
    if not path.exists():
        from study.errors import ConfigError

        raise ConfigError(f"--stage render: no saved replication (replication = "
                          f"{config.replication!r}) under {out / 'cache'}; run --stage "
                          "compute first")
    return pd.read_csv(path)


# ----------------------------------------------------------------------------------------
# Data checks: forensics and univariate tests (computed once, saved, rendered)

_CHECK_TABLES = ("marginals", "pairwise", "impossible", "constants", "templates")


def _checks_dir(config: Config, data: StudyData, out: Path) -> Path:
    key = digest(config.seed, config.univariate_resamples, sorted(config.datasets),
                 [data.provenance[d].sha256 for d in sorted(config.datasets)], __version__)
    return out / "cache" / f"checks-{key}"


def compute_checks(config: Config, data: StudyData, out: Path) -> dict[str, Any]:
    """Forensics and univariate tests of every dataset, saved under the cache (reused)."""
    directory = _checks_dir(config, data, out)
    if (directory / "summary.json").exists():
        return load_checks(config, data, out)
    from study.datasets import get_spec
    from study.forensics import forensics, summary_text
    from study.parallel import seed_for
    from study.univariate import univariate

    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in _CHECK_TABLES}
    tables["univariate"] = []
    summaries = {}
    for name in config.datasets:
        spec = get_spec(name)
        result = forensics(data.frames[name], spec)
        for table in _CHECK_TABLES:
            frame = getattr(result, table)
            if "dataset" not in frame.columns:
                frame = frame.assign(dataset=name)
            tables[table].append(frame)
        summaries[name] = summary_text(result)
        tables["univariate"].append(univariate(
            data.frames[name], spec, n_resamples=config.univariate_resamples,
            random_state=seed_for(config.seed, name, purpose="univariate")))
    for table, frames in tables.items():
        combined = pd.concat(frames, ignore_index=True)
        atomic_write_text(directory / f"{table}.csv",
                          combined.to_csv(index=False, lineterminator="\n"))
    write_json(directory / "summary.json", summaries)  # last: marks the checks complete
    return load_checks(config, data, out)


def load_checks(config: Config, data: StudyData, out: Path) -> dict[str, Any]:
    """The saved data checks; missing ones are a clear error."""
    import json

    directory = _checks_dir(config, data, out)
    if not (directory / "summary.json").exists():
        from study.errors import ConfigError

        raise ConfigError(f"--stage render: no saved data checks under {directory}; run "
                          "--stage compute first")
    checks: dict[str, Any] = {"summary": json.loads((directory / "summary.json").read_text())}
    for table in (*_CHECK_TABLES, "univariate"):
        checks[table] = pd.read_csv(directory / f"{table}.csv")
    return checks


# ----------------------------------------------------------------------------------------
# Calibration summary (the study's tests on simulated null tables; python -m study.calibrate
# runs the full calibration)


def _calibration_design(config: Config) -> dict[str, Any] | None:
    if config.calibration == "none":
        return None
    from study.calibration import design_for

    return design_for(config.calibration, {"seed": config.seed})


def compute_calibration(config: Config, out: Path, *, jobs: int, backend: str = "loky",
                        show_progress: bool = True) -> Any:
    """The calibration summary of ``config`` (computed once, saved, reused), or ``None``."""
    design = _calibration_design(config)
    if design is None:
        return None
    from study.calibrate import run

    return run(design, out, jobs=jobs, backend=backend, show_progress=show_progress)[0]


def load_calibration(config: Config, out: Path) -> Any:
    """The saved calibration summary; a requested but missing one is a clear error."""
    design = _calibration_design(config)
    if design is None:
        return None
    from study.calibrate import load

    saved = load(design, out)
    if saved is None:
        from study.errors import ConfigError

        raise ConfigError(f"--stage render: no saved calibration summary under "
                          f"{out / 'cache'}; run --stage compute first")
    return saved


def _calibration_section(calibration: Any) -> list[str]:
    t1 = calibration.type1
    design = calibration.design
    from study.calibration import holds_alpha

    inside = int(holds_alpha(t1).sum())
    t = design["type1"]
    lines = ["## Calibration (summary)", "",
             f"Would the tests above reject too often when nothing is there? On "
             f"{t['n_replicates']} simulated null tables of {t['n']} rows with the schema of "
             f"{', '.join(design.get('datasets', ['trends', 'popularity']))} (target "
             "independent of every column), each test was run at alpha = "
             f"{design['alpha']} with the study's pipelines and folds (permutation tests "
             f"with B = {t['n_permutations']}, sequential h = {t['sequential']}). "
             f"{inside} of {len(t1)} tested cells hold alpha inside the Clopper-Pearson 95% "
             "interval of their rejection rate (`tables/calibration_summary.csv`). Power, "
             "minimum detectable effects and interval coverage at the real sample sizes: "
             "`python -m study.calibrate` (see the README).", ""]
    for row in t1.itertuples():
        lines.append(f"- {row.dataset} / {row.model} / {row.test}: type-I error "
                     f"{row.type1_error:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}], KS p = "
                     f"{row.ks_p:.2g}.")
    return [*lines, ""]


def _checks_section(checks: dict[str, Any], datasets: Sequence[str], alpha: float
                    ) -> list[str]:
    uni = checks["univariate"]
    lines = ["## Data forensics", "",
             "Is the data's lack of signal a property of popularity, or of the tables? Each "
             "marginal is tested against a uniform distribution, every pair of columns for "
             "independence (Benjamini-Hochberg across pairs), and records that no real log "
             "could produce are counted (`tables/forensics_*.csv`).", ""]
    for name in datasets:
        lines += [checks["summary"][name], ""]
    lines += ["## Univariate tests", "",
              "The original author's EDA step, done formally: each metadata variable against "
              "the regression target (one-way ANOVA with eta squared, Kruskal-Wallis with "
              "epsilon squared, Spearman for numeric variables) and the class target "
              "(chi-square with Cramer's V), with bootstrap intervals for the effect sizes "
              "and Benjamini-Hochberg within each family (`tables/univariate.csv`).", ""]
    for name, group in uni.groupby("dataset", sort=False):
        hits = int((group["q_bh"] < alpha).sum())
        smallest = group.loc[group["q_bh"].idxmin()]
        lines.append(
            f"- **{name}**: {hits} of {len(group)} tests have q < {alpha}; the smallest q is "
            f"{smallest['q_bh']:.3g} ({smallest['variable']} against the {smallest['target']} "
            f"target, {smallest['test']}, {smallest['effect_name']} = "
            f"{smallest['effect']:.3g}).")
    return [*lines, ""]


def _render_check_figures(checks: dict[str, Any], out: Path, *, alpha: float,
                          synthetic: bool) -> dict[str, tuple[list[Path], str]]:
    from study.checks_figures import CAPTIONS, forensics_pairs, univariate_effects
    from study.figures import SYNTHETIC_NOTE, save_figure

    note = SYNTHETIC_NOTE if synthetic else ""
    drawn = {"forensics_pairs": lambda: forensics_pairs(checks["pairwise"], alpha=alpha,
                                                        synthetic=synthetic),
             "univariate_effects": lambda: univariate_effects(checks["univariate"],
                                                              alpha=alpha,
                                                              synthetic=synthetic)}
    return {name: (save_figure(draw(), out / name), CAPTIONS[name].format(alpha=alpha) + note)
            for name, draw in drawn.items()}


# ----------------------------------------------------------------------------------------
# Tables


def fold_score_table(cells: Sequence[ComputedCell]) -> pd.DataFrame:
    """Every fold score: ``dataset, task, model, metric, repeat, fold, n_train, n_test,
    score``."""
    rows = []
    for c in cells:
        for metric, scores in c.cv.scores.items():
            for r in range(scores.shape[0]):
                for k in range(scores.shape[1]):
                    rows.append((c.dataset, c.task, c.model, metric, r, k,
                                 int(c.cv.n_train[r, k]), int(c.cv.n_test[r, k]),
                                 float(scores[r, k])))
    return pd.DataFrame(rows, columns=["dataset", "task", "model", "metric", "repeat", "fold",
                                       "n_train", "n_test", "score"])


def _mark(table: pd.DataFrame, synthetic: bool) -> pd.DataFrame:
    if not synthetic:
        return table
    table = table.copy()
    table.insert(0, "data", "SYNTHETIC")
    return table


def headline_text(table: pd.DataFrame) -> str:
    """The primary-metric rows of the p-value table, for the terminal."""
    primary = table[table["metric"].isin(["roc_auc", "r2"])]
    cols = ["dataset", "task", "model", "metric", "statistic", "ci_low", "ci_high",
            "p_perm", "p_holm", "p_tost", "verdict"]
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.float_format", "{:.4g}".format):
        return primary[cols].to_string(index=False)


# ----------------------------------------------------------------------------------------
# Report


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "study": __version__}
    for lib in _LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def _git_commit() -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=False, timeout=10, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _command(argv: Sequence[str] | None) -> str:
    import shlex
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    return "python -m study.run_all" + ("" if not args else " " + shlex.join(args))


def _methods(config: Config, data: StudyData) -> str:
    v = _versions()
    special = []
    for model, s in sorted(config.model_settings.items()):
        trees = ("" if s.n_estimators is None else
                 f", n_estimators = {s.n_estimators} (trees or boosting iterations)")
        seq = "" if s.sequential is None else f", sequential stopping at h = {s.sequential}"
        special.append(f"{model}: {s.n_repeats} repeat(s), at most {s.n_permutations} "
                       f"permutations{seq}{trees}")
    seq = ("" if config.sequential is None else
           f" with sequential stopping after h = {config.sequential} exceedances "
           "(Besag & Clifford 1991; p = h/L when stopped early)")
    shas = "; ".join(f"{p.dataset} `{p.sha256}`"
                     + ("" if p.matches_release else " (not the published release)")
                     for p in data.provenance.values())
    return (
        f"Each model was evaluated by {config.n_repeats} repeats of stratified "
        f"{config.n_splits}-fold cross-validation (classification stratified on the class, "
        f"regression on {config.n_bins} target-quantile bins), with every preprocessing step "
        "refitted inside each training fold; the headline statistic is the mean over folds "
        "of the per-fold ROC-AUC or R², never a pooled score. Significance against chance "
        "came from permutation tests of the whole cross-validated procedure (Ojala & Garriga "
        f"2010, test 1) with at most {config.n_permutations} permutations{seq}, p = "
        "(1 + #exceedances)/(1 + B) (Phipson & Smyth 2010). Per-model designs: "
        + ("; ".join(special) if special else "none") + ". "
        f"Intervals are {config.confidence_level:.0%} BCa bootstrap intervals (Efron 1987) "
        f"over {config.n_resamples} resamples of test rows within folds (stratified by "
        "class for AUC); the comparison with the dummy baseline on identical folds uses "
        "the Nadeau & Bengio (2003) corrected resampled t-test; DeLong (1988) tests AUC "
        "against 0.5 as an analytic cross-check only (holding each fold's predictions fixed, "
        "it and the bootstrap interval ignore the dependence that cross-fitting creates "
        "between folds; `python -m study.calibrate` measures both as too liberal). "
        "Equivalence (Lakens 2017): AUC within "
        f"0.5 ± {config.auc_margin}, R² improvement over the baseline below "
        f"{config.r2_margin}, by TOST. Holm (family-wise) and Benjamini-Hochberg (FDR) "
        f"corrections run over the {_family_size(config)} "
        f"headline tests at alpha = {config.alpha}. Master seed {config.seed} (preset "
        f"`{config.preset}`). Software: Python {v['python']}, numpy {v['numpy']}, pandas "
        f"{v['pandas']}, scipy {v['scipy']}, scikit-learn {v['scikit-learn']}, statsmodels "
        f"{v['statsmodels']}, study {v['study']}. Data sha256: {shas}."
    )


def _family_size(config: Config) -> int:
    """The headline tests: every cell but the baselines."""
    from study.models import baseline_name

    return sum(model != baseline_name(task) for _, task, model in config.cells())


def _verdict_words(table: pd.DataFrame, level: float) -> list[str]:
    lines = []
    primary = table[table["metric"].isin(["roc_auc", "r2"]) & (table["verdict"] != "baseline")]
    for row in primary.itertuples():
        what = "ROC-AUC" if row.metric == "roc_auc" else "cross-validated R²"
        ci = f"{row.statistic:.4f} ({level:.0%} CI {row.ci_low:.4f} to {row.ci_high:.4f})"
        tail = (f"permutation p = {row.p_perm:.3g}, Holm-adjusted {row.p_holm:.3g}, "
                f"TOST p = {row.p_tost:.3g}")
        if row.verdict == "signal":
            words = "predicts better than chance"
        elif row.verdict == "practically null" and row.metric == "roc_auc":
            words = "is practically null: equivalent to 0.5 within the declared margin"
        elif row.verdict == "practically null":
            words = ("is practically null: shown not to beat the mean-predicting baseline "
                     "by the declared margin")
        else:
            words = "is inconclusive: neither better than chance nor shown equivalent to it"
        lines.append(f"- **{row.dataset} / {row.task} / {row.model}**: {what} {ci} "
                     f"{words} ({tail}).")
    return lines


def render(config: Config, data: StudyData, out: Path, cells: Sequence[ComputedCell],
           replication: pd.DataFrame | None, checks: dict[str, Any], *,
           calibration: Any = None, argv: Sequence[str] | None) -> pd.DataFrame:
    """Write every table, figure and the report from saved results; returns the p-values."""
    from study import figures
    from study.run_all import table_cells

    tcells = table_cells(cells)
    table = build_pvalue_table(tcells, alpha=config.alpha, auc_margin=config.auc_margin,
                               r2_margin=config.r2_margin)
    # rows in the order of the cells (each task's models as configured, baseline last)
    order = {(c.dataset, c.task, c.model): i for i, c in enumerate(cells)}
    rank = [order[key] for key in zip(table["dataset"], table["task"], table["model"],
                                      strict=True)]
    table = table.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    table["n_permutations"] = table["n_permutations"].astype("Int64")  # counts, not floats
    tables = out / "tables"
    synthetic = data.synthetic
    tag = " (SYNTHETIC DATA)" if synthetic else ""
    write_table(_mark(table, synthetic), tables, "pvalues",
                caption="Headline tests: one row per dataset, task, model and metric" + tag)
    write_table(_mark(fold_score_table(cells), synthetic), tables, "fold_scores",
                caption="Per-fold scores of every model" + tag)
    if replication is not None:
        write_table(replication, tables, "replication",
                    caption="The original notebook's numbers and ours")
    for name in _CHECK_TABLES:
        write_table(_mark(checks[name], synthetic), tables, f"forensics_{name}",
                    caption=f"Data forensics: {name}" + tag)
    write_table(_mark(checks["univariate"], synthetic), tables, "univariate",
                caption="Univariate tests of every metadata variable" + tag)

    made = figures.render_all(tcells, out, table=table, auc_margin=config.auc_margin,
                              r2_margin=config.r2_margin, synthetic=synthetic)
    made.update(_render_check_figures(checks, out, alpha=config.alpha, synthetic=synthetic))
    if calibration is not None:
        from study.calibration_figures import CAPTIONS, pvalue_qq
        from study.figures import save_figure

        write_table(calibration.type1, tables, "calibration_summary",
                    caption="Type-I error of the study's tests on simulated null tables")
        made["calibration_summary_qq"] = (
            save_figure(pvalue_qq(calibration.type1_replicates, calibration.design),
                        out / "calibration_summary_qq"),
            CAPTIONS["calibration_qq"].format(alpha=calibration.design["alpha"]))
    # outputs an earlier run made and this configuration does not: remove, so the folder
    # always agrees with report.md
    for name in figures.FIGURES:
        if name not in made:
            for ext in (".pdf", ".png"):
                (out / f"{name}{ext}").unlink(missing_ok=True)
    if replication is None:
        for ext in (".csv", ".md", ".tex"):
            (tables / f"replication{ext}").unlink(missing_ok=True)
    if calibration is None:
        for path in (*(tables / f"calibration_summary{e}" for e in (".csv", ".md", ".tex")),
                     out / "calibration_summary_qq.pdf", out / "calibration_summary_qq.png"):
            path.unlink(missing_ok=True)

    command = _command(argv)
    lines = [f"# The study{tag}", ""]
    if synthetic:
        lines += ["**Every number, table and figure below comes from SYNTHETIC data** "
                  "generated under the null (no CSV files were found in data/; see "
                  "data/README.md). They show what the study produces, not what the "
                  "datasets say.", ""]
    lines += ["## Methods", "", _methods(config, data), "",
              "## Verdicts", "", *_verdict_words(table, config.confidence_level), "",
              "## Headline table", "",
              "Full table with the secondary metrics: `tables/pvalues.csv` (also `.md`, "
              "`.tex`); every fold score: `tables/fold_scores.csv`.", ""]
    primary = table[table["metric"].isin(["roc_auc", "r2"])]
    from study.io import to_markdown

    lines += [to_markdown(primary.drop(columns=["p_perm_two_sided"])), ""]
    if replication is not None:
        ok = int(replication["within_tolerance"].sum())
        lines += ["## Replication of the original notebook", "",
                  f"{ok} of {len(replication)} numbers the original printed are reproduced "
                  "within tolerance (`tables/replication.csv`; "
                  f"replication = `{config.replication}`).", "",
                  to_markdown(replication), ""]
    lines += _checks_section(checks, config.datasets, config.alpha)
    if calibration is not None:
        lines += _calibration_section(calibration)
    lines += ["## Figures", ""]
    for i, (paths, caption) in enumerate(made.values(), start=1):
        png = next(p for p in paths if p.suffix == ".png")
        pdf = next(p for p in paths if p.suffix == ".pdf")
        lines += [f"![Figure {i}]({png.name})", "",
                  f"**Figure {i}.** {caption} Vector version: `{pdf.name}`. "
                  f"Made by `{command}`.", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    return table


def write_manifest(config: Config, data: StudyData, out: Path, stage_s: dict[str, Any], *,
                   argv: Sequence[str] | None) -> Path:
    """``<out>/manifest.json``: versions, seed, config, data provenance, timings, commit."""
    manifest = {
        "command": _command(argv),
        "study_version": __version__,
        "versions": _versions(),
        "seed": config.seed,
        "preset": config.preset,
        "config": config.raw,
        "synthetic": data.synthetic,
        "data": {name: p.as_dict() for name, p in data.provenance.items()},
        "timings_s": {k: (round(v, 3) if isinstance(v, float) else v)
                      for k, v in stage_s.items()},
        "git_commit": _git_commit(),
        "platform": {"machine": platform.machine(), "system": platform.system(),
                     "cpu_count": _cpu_count()},
    }
    return write_json(out / "manifest.json", manifest)


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)

