"""The study, end to end: ``python -m study.run_all``.

Stages
------
``compute``
    For every (dataset, task, model) cell: repeated stratified cross-validation, the
    permutation test and bootstrap intervals, written to ``<out>/cache/`` under a key of the
    cell's settings, the data's sha256 and the package version. A cell already there is
    reused, so an interrupted run resumes where it stopped. The replication of the original
    notebook, the data checks (forensics, univariate tests) and the calibration summary
    (the study's tests on simulated null tables, :mod:`study.calibration`) are cached the
    same way.
``render``
    Every table, figure, the report and the manifest, from the saved results alone: no
    model is fitted.

With no CSV files in ``data/`` (and no ``--data-dir``), the study says so and runs on
schema-faithful synthetic data under ``<out>/demo/``, every output marked synthetic.

Randomness: one master seed. Each analysis draws from its own
``np.random.SeedSequence(seed, spawn_key=...)`` child, keyed by the names of its dataset,
task, model and purpose (not by the cell's position), so a cell's numbers do not depend on
which other cells run, on ``--jobs`` or on the back end; a cell's bootstrap spawns one
grandchild per metric in the task's fixed metric order.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from joblib import delayed

from study import __version__
from study.config import PRESETS, Config, digest, load_toml, resolve
from study.datasets import DATASETS, Provenance, get_spec, load, task_target
from study.errors import ConfigError, guarded_main
from study.inference import Cell
from study.intervals import bootstrap_cv
from study.models import LINEAR_MODELS, baseline_name, build_model
from study.parallel import executor, seed_for
from study.permutation import permutation_test
from study.resampling import Folds, cross_validate, repeated_folds
from study.results import CVResult
from study.store import load_cell, save_cell

__all__ = ["ComputedCell", "main", "seed_for"]

# ----------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class StudyData:
    """The validated tables of a run and where they came from."""

    frames: dict[str, pd.DataFrame]
    provenance: dict[str, Provenance]
    synthetic: bool


def _has_any_csv(directory: Path) -> bool:
    return any((directory / spec.filename).exists() for spec in DATASETS.values())


def prepare_data(config: Config, *, data_dir: Path | None, out: Path) -> tuple[StudyData, Path]:
    """Load and validate the tables, or generate the demo data; returns the output folder.

    Nothing is written unless the demo path is taken (its data go under ``<out>/demo/``).
    """
    explicit = data_dir is not None
    directory = Path(data_dir) if explicit else Path("data")
    if not explicit and not _has_any_csv(directory):
        from study.simulate import write_demo_data

        print(
            f"No data files in {directory}/: download them as data/README.md says (Kaggle "
            + ", ".join(f"{s.kaggle_slug}" for s in DATASETS.values())
            + "). Running the whole study on schema-faithful SYNTHETIC data instead; "
            "outputs go to " + str(out / "demo") + "/ and are marked synthetic.",
            file=sys.stderr, flush=True,
        )
        out = out / "demo"
        directory = out / "data"
        write_demo_data(directory, random_state=seed_for(config.seed, "demo", purpose="demo"))
        synthetic = True
    else:
        synthetic = False
    frames, provenance = {}, {}
    for name in config.datasets:
        frames[name], provenance[name] = load(name, directory, n_splits=config.n_splits,
                                              n_bins=config.n_bins)
    return StudyData(frames, provenance, synthetic), out


#: The regression target, or the original's class labels (:func:`study.datasets.task_target`).
target = task_target


# ----------------------------------------------------------------------------------------
# Compute


@dataclass(frozen=True)
class ComputedCell:
    """The saved results of one cell, as read back from the cache."""

    dataset: str
    task: str
    model: str
    cv: CVResult
    perm: Any
    bootstrap: dict[str, Any]
    info: dict[str, Any]

    @property
    def is_baseline(self) -> bool:
        return self.model == baseline_name(self.task)


def first_repeats(folds: Folds, n_repeats: int) -> Folds:
    """The first ``n_repeats`` partitions (repeat ``r`` never depends on how many follow)."""
    if n_repeats == folds.n_repeats:
        return folds
    return replace(folds, assignment=folds.assignment[:n_repeats])


def subset_cv(cv: CVResult, n_repeats: int) -> CVResult:
    """The same CV result restricted to its first ``n_repeats`` repeats."""
    if n_repeats == cv.n_repeats:
        return cv
    return replace(
        cv,
        scores={m: s[:n_repeats] for m, s in cv.scores.items()},
        folds=cv.folds[:n_repeats], oof=cv.oof[:n_repeats],
        fit_times=cv.fit_times[:n_repeats], n_train=cv.n_train[:n_repeats],
        n_test=cv.n_test[:n_repeats],
    )


def cell_key(config: Config, data: StudyData, dataset: str, task: str, model: str) -> str:
    """Cache key: every setting that changes the cell's numbers, the data, the version."""
    settings = config.settings(model)
    parts = {
        "seed": config.seed, "dataset": dataset, "task": task, "model": model,
        "n_splits": config.n_splits, "n_bins": config.n_bins,
        "n_repeats": settings.n_repeats,
        "n_resamples": config.n_resamples, "confidence_level": config.confidence_level,
    }
    if model != baseline_name(task):  # the baseline runs no permutation test
        parts.update(n_permutations=settings.n_permutations, sequential=settings.sequential)
    if model not in LINEAR_MODELS:  # the linear models have no trees or iterations
        parts["n_estimators"] = settings.n_estimators
    return digest(parts, data.provenance[dataset].sha256, __version__)


class _Progress:
    """tqdm bars: one over cells (with an ETA), one per cell's permutations."""

    def __init__(self, total: int, *, enabled: bool):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.enabled = enabled
        self.cells = tqdm(total=total, desc="cells", unit="cell", disable=not enabled,
                          position=0, leave=True, file=sys.stderr)

    @contextlib.contextmanager
    def bar(self, desc: str, total: int) -> Iterator[Any]:
        bar = self._tqdm(total=total, desc=desc, unit="perm", disable=not self.enabled,
                         position=1, leave=False, file=sys.stderr)
        try:
            yield bar
        finally:
            bar.close()

    def write(self, line: str) -> None:
        self._tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()

    def close(self) -> None:
        self.cells.close()


def _compute_cell(config: Config, data: StudyData, folds: Folds, dataset: str, task: str,
                  model: str, *, jobs: int, backend: str, progress: _Progress) -> dict:
    settings = config.settings(model)
    spec = get_spec(dataset)
    frame = data.frames[dataset]
    y = target(frame, dataset, task)
    cell_folds = first_repeats(folds, settings.n_repeats)
    pipeline = build_model(model, spec, task,
                           random_state=seed_for(config.seed, dataset, task, model,
                                                 purpose="model"),
                           n_estimators=settings.n_estimators)
    timings = {}
    start = time.perf_counter()
    cv = cross_validate(pipeline, frame, y, cell_folds, task=task, n_jobs=jobs, backend=backend)
    timings["cv_s"] = time.perf_counter() - start
    perm = None
    if model != baseline_name(task):
        start = time.perf_counter()
        with progress.bar(f"{dataset}/{task}/{model}", settings.n_permutations) as bar:
            def tick(done: int, total: int, bar=bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            perm = permutation_test(
                pipeline, frame, y, cell_folds, task=task,
                n_permutations=settings.n_permutations, sequential=settings.sequential,
                # small chunks let sequential stopping stop soon (nothing past the
                # stopping point is wasted beyond the chunk); the chunk size never changes
                # a result
                chunk_size=2,
                n_jobs=jobs, backend=backend, progress=tick,
                random_state=seed_for(config.seed, dataset, task, model,
                                      purpose="permutation"),
            )
        timings["permutation_s"] = time.perf_counter() - start
    start = time.perf_counter()
    metrics = list(cv.scores)  # a fixed order per task: headline metric, then secondaries
    boot_seed = seed_for(config.seed, dataset, task, model, purpose="bootstrap")
    children = boot_seed.spawn(len(metrics))  # one child per metric, before dispatch
    with executor(jobs, backend) as (pool, _):
        intervals = list(pool(
            delayed(bootstrap_cv)(cv.y, cv.oof, cv.folds, metric=metric,
                                  n_resamples=config.n_resamples,
                                  confidence_level=config.confidence_level,
                                  random_state=child)
            for metric, child in zip(metrics, children, strict=True)))
    bootstrap = dict(zip(metrics, intervals, strict=True))
    timings["bootstrap_s"] = time.perf_counter() - start
    records: dict[str, Any] = {"cv": cv, "perm": perm}
    records.update({f"bootstrap.{m}": b for m, b in bootstrap.items()})
    return {"records": records, "timings": timings,
            "settings": {"n_repeats": settings.n_repeats,
                         "n_permutations": settings.n_permutations,
                         "sequential": settings.sequential,
                         "n_estimators": settings.n_estimators}}


def _as_computed(dataset: str, task: str, model: str, records: dict, info: dict
                 ) -> ComputedCell:
    bootstrap = {name.split(".", 1)[1]: rec for name, rec in records.items()
                 if name.startswith("bootstrap.")}
    return ComputedCell(dataset, task, model, records["cv"], records["perm"], bootstrap, info)


def compute(config: Config, data: StudyData, out: Path, *, jobs: int, backend: str,
            show_progress: bool = True) -> tuple[list[ComputedCell], dict[str, float]]:
    """Compute (or reuse) every cell; returns the cells and per-stage timings."""
    cache = out / "cache"
    cells = config.cells()
    progress = _Progress(len(cells), enabled=show_progress)
    computed, reused, fresh_s = [], 0, 0.0
    folds: dict[tuple[str, str], Folds] = {}
    try:
        for dataset, task, model in cells:
            key = cell_key(config, data, dataset, task, model)
            stem = cache / dataset / task / f"{model}-{key}"
            saved = load_cell(stem)
            if saved is None:
                if (dataset, task) not in folds:
                    folds[dataset, task] = repeated_folds(
                        target(data.frames[dataset], dataset, task), task=task,
                        n_splits=config.n_splits, n_repeats=config.n_repeats,
                        n_bins=config.n_bins,
                        random_state=seed_for(config.seed, dataset, task, purpose="folds"))
                start = time.perf_counter()
                result = _compute_cell(config, data, folds[dataset, task], dataset, task,
                                       model, jobs=jobs, backend=backend, progress=progress)
                elapsed = time.perf_counter() - start
                fresh_s += elapsed
                info = {"dataset": dataset, "task": task, "model": model, "key": key,
                        "seconds": elapsed, **result}
                info.pop("records")
                save_cell(stem, result["records"], info)
                saved = load_cell(stem)
                assert saved is not None
                status = f"{elapsed:.1f} s"
            else:
                reused += 1
                status = "cached"
            cell = _as_computed(dataset, task, model, *saved)
            computed.append(cell)
            progress.cells.update(1)
            progress.write(_summary(cell, status))
    finally:
        progress.close()
    return computed, {"compute_s": fresh_s, "cells_reused": reused,
                      "cells_computed": len(cells) - reused}


def _summary(cell: ComputedCell, status: str) -> str:
    metric = cell.cv.metric
    boot = cell.bootstrap.get(metric)
    ci = f" [{boot.ci_low:.4f}, {boot.ci_high:.4f}]" if boot is not None else ""
    line = f"{cell.dataset}/{cell.task}/{cell.model}: {metric} = {cell.cv.statistic:.4f}{ci}"
    if cell.perm is not None:
        early = ", stopped early" if cell.perm.stopped_early else ""
        line += f", p_perm = {cell.perm.pvalue:.3g} (B = {cell.perm.n_permutations}{early})"
    return f"{line} ({status})"


def load_computed(config: Config, data: StudyData, out: Path) -> list[ComputedCell]:
    """Every cell of ``config`` from the cache; a missing one is a clear error."""
    cells = []
    for dataset, task, model in config.cells():
        key = cell_key(config, data, dataset, task, model)
        saved = load_cell(out / "cache" / dataset / task / f"{model}-{key}")
        if saved is None:
            raise ConfigError(
                f"--stage render: no saved results for {dataset}/{task}/{model} under "
                f"{out / 'cache'} for this configuration; run --stage compute first")
        cells.append(_as_computed(dataset, task, model, *saved))
    return cells


def table_cells(cells: Sequence[ComputedCell]) -> list[Cell]:
    """Cells for the headline table, each model paired with its baseline on its folds."""
    baselines = {(c.dataset, c.task): c for c in cells if c.is_baseline}
    out = []
    for c in cells:
        base = baselines.get((c.dataset, c.task))
        base_cv = None if base is None or c.is_baseline else subset_cv(base.cv, c.cv.n_repeats)
        out.append(Cell(dataset=c.dataset, task=c.task, model=c.model, cv=c.cv,
                        baseline_cv=base_cv, perm=c.perm, bootstrap=c.bootstrap,
                        is_baseline=c.is_baseline))
    return out


# ----------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    presets = "; ".join(
        f"{name}: {p['cv']['n_splits']}-fold x {p['cv']['n_repeats']} repeats, "
        f"B <= {p['permutation']['n_permutations']} permutations, "
        f"{p['bootstrap']['n_resamples']} bootstrap resamples"
        for name, p in PRESETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m study.run_all",
        description="Run the whole study: repeated stratified cross-validation, permutation "
                    "tests, bootstrap intervals, equivalence verdicts and multiplicity "
                    "corrections for every (dataset, task, model); then render the figures, "
                    "p-value tables, report and manifest.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the two CSV files; when omitted, data/ is used, and "
                             "if it holds none the study runs on synthetic demo data "
                             "(default: data/)")
    parser.add_argument("--out", type=Path, default=Path("figures"),
                        help="output folder: figures, tables/, report.md, manifest.json, "
                             "cache/")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full",
                        help=f"resampling design ({presets}); full is what a paper uses")
    parser.add_argument("--seed", type=int, default=None,
                        help="master seed (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="parallel workers (joblib); results do not depend on it")
    parser.add_argument("--backend", choices=["loky", "dask"], default="loky",
                        help="joblib back end; dask needs the [dask] extra")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="dask scheduler address (with --backend dask); a local "
                             "cluster of --jobs workers when omitted")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="TOML file overriding keys of the preset (see README)")
    parser.add_argument("--stage", choices=["compute", "render", "all"], default="all",
                        help="compute saves results; render rebuilds every output from them")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated subset of: " + ", ".join(DATASETS))
    parser.add_argument("--models", default=None,
                        help="comma-separated subset of: ridge, logistic, random_forest, "
                             "hist_gradient_boosting (each runs on the tasks it has)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def build_config(args: argparse.Namespace) -> Config:
    override: dict[str, Any] = load_toml(args.config) if args.config else {}
    if args.seed is not None:
        override["seed"] = args.seed
    if args.datasets is not None:
        override["datasets"] = args.datasets
    if args.models is not None:
        override["models"] = args.models
    return resolve(args.preset, override)


@contextlib.contextmanager
def _dask_client(backend: str, scheduler: str | None, jobs: int) -> Iterator[None]:
    if backend != "dask":
        yield
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--backend dask needs the dask extra: pip install -e '.[dask]'"
                          ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield
    else:
        import os

        n_workers = (os.cpu_count() or 1) if jobs == -1 else max(1, jobs)
        with LocalCluster(n_workers=n_workers, threads_per_worker=1,
                          processes=True) as cluster, Client(cluster):
            yield


def _main(argv: Sequence[str] | None = None) -> int:
    from study import report

    args = _parser().parse_args(argv)
    if args.jobs == 0 or args.jobs < -1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive count or -1 (all cores)")
    if args.scheduler and args.backend != "dask":
        raise ConfigError("--scheduler needs --backend dask")
    config = build_config(args)
    say = functools.partial(print, flush=True)
    stage_s: dict[str, Any] = {}
    # joblib runs n_jobs=1 in-process: on Dask every worker of the cluster is used instead
    jobs = -1 if args.backend == "dask" else args.jobs
    # the back end is checked (and a cluster reached) before anything is written
    with _dask_client(args.backend, args.scheduler, args.jobs):
        if args.stage == "render" and args.data_dir is None and not _has_any_csv(Path("data")):
            if not (args.out / "demo" / "cache").is_dir():
                raise ConfigError(f"--stage render: no saved demo results under "
                                  f"{args.out / 'demo' / 'cache'}; run --stage compute first")
        start = time.perf_counter()
        data, out = prepare_data(config, data_dir=args.data_dir, out=args.out)
        stage_s["load_s"] = time.perf_counter() - start
        if args.stage in ("compute", "all"):
            workers = "all Dask workers" if args.backend == "dask" else f"{args.jobs} job(s)"
            say(f"compute: {len(config.cells())} cells, preset {config.preset}, seed "
                f"{config.seed}, {workers}, back end {args.backend}")
            cells, timings = compute(config, data, out, jobs=jobs, backend=args.backend,
                                     show_progress=not args.quiet)
            stage_s.update(timings)
            start = time.perf_counter()
            replication = report.compute_replication(config, data, out)
            stage_s["replication_s"] = time.perf_counter() - start
            start = time.perf_counter()
            checks = report.compute_checks(config, data, out)
            stage_s["checks_s"] = time.perf_counter() - start
            start = time.perf_counter()
            calibration = report.compute_calibration(config, out, jobs=jobs,
                                                     backend=args.backend,
                                                     show_progress=not args.quiet)
            stage_s["calibration_s"] = time.perf_counter() - start
        else:
            cells = load_computed(config, data, out)
            replication = report.load_replication(config, data, out)
            checks = report.load_checks(config, data, out)
            calibration = report.load_calibration(config, out)
    if args.stage in ("render", "all"):
        start = time.perf_counter()
        table = report.render(config, data, out, cells, replication, checks,
                              calibration=calibration, argv=argv)
        stage_s["render_s"] = time.perf_counter() - start
        report.write_manifest(config, data, out, stage_s, argv=argv)
        say("\n" + report.headline_text(table))
        say(f"\nwrote {out}/report.md, {out}/tables/, figures and {out}/manifest.json")
    else:
        say(f"compute done; results saved under {out}/cache/ (render with --stage render)")
    return 0


main = guarded_main(_main)

if __name__ == "__main__":
    raise SystemExit(main())
