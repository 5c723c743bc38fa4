"""``python -m study.calibrate``: type-I error, power and coverage of the study, by simulation.

Runs :func:`study.calibration.calibrate` for a preset, saves every replicate's record under
``<out>/cache/calibration-<key>/`` (a rerun with the same preset and seed reuses them), and
renders from those records alone:

- ``<out>/tables/calibration.{csv,md,tex}``: type-I error per tested cell (columns
  :data:`~study.calibration.CALIBRATION_COLUMNS`);
- ``<out>/tables/calibration_power.*`` and ``calibration_mde.*``: power curves and the
  minimum detectable effects at 80% power (n = 10,000 and 5,000);
- ``<out>/tables/calibration_coverage.*``: coverage of the intervals;
- ``<out>/calibration_qq``, ``calibration_power`` and ``calibration_coverage`` as PDF and
  PNG, and ``<out>/calibration.md`` with the captions and the design.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from study import __version__
from study.calibration import PRESETS, CalibrationResult, calibrate, design_for, holds_alpha
from study.config import digest
from study.errors import ConfigError, guarded_main
from study.io import atomic_write_text, to_markdown, write_json, write_table

__all__ = ["cache_dir", "headline", "load", "main", "render", "run", "tables"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m study.calibrate",
        description="Validate the study's procedure by simulation on schema-faithful "
                    "tables: type-I error of its tests under H0, power and minimum "
                    "detectable effects under planted effects, coverage of its intervals.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--preset", choices=[p for p in PRESETS if p != "summary"],
                        default="quick",
                        help="quick: about 10 minutes on 2 cores; full: the paper's "
                             "replicate counts (hours)")
    parser.add_argument("--out", type=Path, default=Path("figures"),
                        help="output folder (tables/, figures, calibration.md, cache/)")
    parser.add_argument("--seed", type=int, default=None,
                        help="master seed (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="parallel workers (joblib); results do not depend on it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def cache_dir(out: Path, design: dict) -> Path:
    """Where a design's replicate records are saved."""
    return Path(out) / "cache" / f"calibration-{digest(design, __version__)}"


def load(design: dict, out: Path) -> CalibrationResult | None:
    """The saved replicates of ``design`` under ``out``, or ``None``."""
    directory = cache_dir(out, design)
    if not (directory / "design.json").exists():
        return None
    power_path = directory / "power.csv"
    power = pd.read_csv(power_path) if power_path.exists() else pd.DataFrame()
    return CalibrationResult(design, pd.read_csv(directory / "type1.csv"), power)


def run(design: dict, out: Path, *, jobs: int = 1, backend: str = "loky",
        show_progress: bool = True) -> tuple[CalibrationResult, bool]:
    """Compute (or reuse) the replicates of ``design``; returns them and whether reused."""
    saved = load(design, out)
    if saved is not None:
        return saved, True
    directory = cache_dir(out, design)
    from tqdm.auto import tqdm

    bar = tqdm(total=0, desc="replicates", unit="rep", disable=not show_progress,
               file=sys.stderr)

    def tick(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        result = calibrate(design, n_jobs=jobs, backend=backend, progress=tick)
    finally:
        bar.close()
    atomic_write_text(directory / "type1.csv",
                      result.type1_replicates.to_csv(index=False, lineterminator="\n"))
    if not result.power_replicates.empty:
        atomic_write_text(directory / "power.csv",
                          result.power_replicates.to_csv(index=False, lineterminator="\n"))
    write_json(directory / "design.json", design)  # last: marks the records complete
    saved = load(design, out)  # what is rendered is exactly what was saved
    assert saved is not None
    return saved, False


def tables(result: CalibrationResult) -> dict[str, pd.DataFrame]:
    """The summary tables, by file name."""
    out = {"calibration": result.type1, "calibration_coverage": result.coverage}
    if result.power is not None:
        out["calibration_power"] = result.power
        out["calibration_mde"] = result.mde
    return out


def render(result: CalibrationResult, out: Path, *, argv: Sequence[str] | None = None
           ) -> dict[str, pd.DataFrame]:
    """Write every table, figure and ``calibration.md`` from saved records."""
    from study.calibration_figures import CAPTIONS, coverage_plot, power_curves, pvalue_qq
    from study.figures import save_figure

    design = result.design
    frames = tables(result)
    for name, frame in frames.items():
        write_table(frame, out / "tables", name)
    figures = {"calibration_qq": lambda: pvalue_qq(result.type1_replicates, design),
               "calibration_coverage": lambda: coverage_plot(frames["calibration_coverage"])}
    if "calibration_power" in frames:
        figures["calibration_power"] = lambda: power_curves(frames["calibration_power"],
                                                            frames["calibration_mde"])
    fields = {"alpha": design["alpha"], "level": design["confidence_level"],
              "n_splits": design["n_splits"]}
    lines = ["# Calibration of the study's procedure", "",
             f"Preset `{design['preset']}`, seed {design['seed']}, study {__version__}. "
             "Command: `python -m study.calibrate "
             + " ".join(argv if argv is not None else sys.argv[1:]) + "`.", "",
             "Design: `" + repr({k: v for k, v in design.items() if k != "preset"}) + "`", ""]
    for title, name in (("Type-I error", "calibration"), ("Power", "calibration_power"),
                        ("Minimum detectable effects (80% power)", "calibration_mde"),
                        ("Coverage", "calibration_coverage")):
        if name in frames:
            lines += [f"## {title}", "", to_markdown(frames[name]).rstrip(), ""]
    for name, draw in figures.items():
        save_figure(draw(), out / name)
        lines += [f"![{name}]({name}.png)", "", CAPTIONS[name].format(**fields), ""]
    atomic_write_text(out / "calibration.md", "\n".join(lines))
    return frames


def headline(frames: dict[str, pd.DataFrame]) -> str:
    """A few lines for the terminal."""
    t1 = frames["calibration"]
    inside = int(holds_alpha(t1).sum())
    lines = [f"type-I error: {inside} of {len(t1)} cells hold alpha inside their 95% "
             f"interval; rates {t1['type1_error'].min():.3f}..{t1['type1_error'].max():.3f}; "
             f"smallest KS p {t1['ks_p'].min():.3g}"]
    if "calibration_mde" in frames:
        for _, row in frames["calibration_mde"].iterrows():
            value = (f"R2 {row['mde_r2']:.4f}" if pd.notna(row["mde_r2"]) else row["note"])
            lines.append(f"MDE {row['dataset']}/{row['task']}/{row['test']} "
                         f"(n={row['n']}): {value}")
    cov = frames["calibration_coverage"]
    lines.append(f"coverage: {cov['coverage'].min():.3f}..{cov['coverage'].max():.3f} "
                 f"over {len(cov)} intervals (nominal {cov['confidence_level'].iloc[0]:g})")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.jobs == 0 or args.jobs < -1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive count or -1 (all cores)")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: expected a non-negative integer")
    override = {} if args.seed is None else {"seed": args.seed}
    design = design_for(args.preset, override)
    say = functools.partial(print, flush=True)
    say(f"calibration: preset {args.preset}, seed {design['seed']}, {args.jobs} job(s)")
    start = time.perf_counter()
    result, reused = run(design, args.out, jobs=args.jobs, show_progress=not args.quiet)
    elapsed = time.perf_counter() - start
    frames = render(result, args.out, argv=argv)
    say(headline(frames))
    status = "reused saved replicates" if reused else f"{elapsed:.0f} s"
    say(f"wrote {args.out}/tables/calibration*.{{csv,md,tex}}, {args.out}/calibration_*.pdf/"
        f".png and {args.out}/calibration.md ({status})")
    return 0


main = guarded_main(_main)

if __name__ == "__main__":
    raise SystemExit(main())
