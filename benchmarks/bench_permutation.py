"""Our permutation engine and scikit-learn's ``permutation_test_score``, side by side.

Both get the same real table (``data/*.csv``), the same pipeline object, the same folds (a
shuffled 5-fold ``KFold``, which does not look at ``y``, so both tests are exact and compute
the same null), the same permutations (ours are handed scikit-learn's, reconstructed from its
``random_state``), the same ``n_jobs`` and the same thread limits (one BLAS thread: on a busy
two-core machine multi-threaded BLAS made the small solves of this study 10-40 times slower,
which would flatter neither side fairly). One run per case; each line reads::

    case=<name> ours_s=<seconds> sklearn_s=<seconds> ratio=<sklearn/ours> max_abs_diff=<...>

where ``max_abs_diff`` is the largest absolute difference between the two null
distributions.

Cases: ``ridge`` (trends regression, batched path), ``logistic`` (trends classification,
generic path with the label-free preprocessing fitted once per fold), ``random_forest``
(trends classification, generic path; a forest's fit dominates, so the ratio is near 1).

Usage::

    python benchmarks/bench_permutation.py            # ridge with B = 1000 (about 10 min)
    python benchmarks/bench_permutation.py --quick    # under about 3 minutes
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold, permutation_test_score
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from study.datasets import class_target, get_spec, load
from study.models import build_model
from study.permutation import null_distribution
from study.resampling import folds_from_splits

#: (dataset, task, model, scoring, method) of each case.
CASES = {
    "ridge": ("trends", "regression", "ridge", "r2", "batched"),
    "logistic": ("trends", "classification", "logistic", "roc_auc", "generic"),
    "random_forest": ("trends", "classification", "random_forest", "roc_auc", "generic"),
}

#: Permutations (and forest size) per case: full run, --quick.
BUDGET = {
    "ridge": (1000, 100),
    "logistic": (100, 20),
    "random_forest": (5, 3),
}
TREES = (None, 50)


def _sklearn_permutations(random_state: int, n: int, n_permutations: int) -> np.ndarray:
    """The permutations ``permutation_test_score`` draws: ``rs.permutation(n)`` in order."""
    rs = check_random_state(random_state)
    return np.stack([rs.permutation(n) for _ in range(n_permutations)])


def run_case(name: str, *, data_dir: Path, quick: bool, n_jobs: int, seed: int = 0) -> str:
    dataset, task, model_name, scoring, method = CASES[name]
    spec = get_spec(dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame, _ = load(dataset, data_dir)
    values = frame[spec.target].to_numpy()
    y = values if task == "regression" else class_target(
        values, spec.task(task).threshold_rule)
    n_permutations = BUDGET[name][1 if quick else 0]
    trees = TREES[1 if quick else 0] if name == "random_forest" else None
    model = build_model(model_name, spec, task, random_state=seed, n_estimators=trees)
    cv = KFold(5, shuffle=True, random_state=seed)
    folds = folds_from_splits(list(cv.split(frame)), len(frame))

    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        _, null_sk, _ = permutation_test_score(
            model, frame, y, cv=cv, n_permutations=n_permutations, random_state=seed,
            scoring=scoring, n_jobs=n_jobs)
        sklearn_s = time.perf_counter() - start

    perms = _sklearn_permutations(seed, len(y), n_permutations)
    start = time.perf_counter()
    _, null = null_distribution(model, frame, y, folds, perms, task=task, method=method,
                                n_jobs=n_jobs)
    ours_s = time.perf_counter() - start
    diff = float(np.max(np.abs(null - null_sk)))
    return (f"case={name} ours_s={ours_s:.3f} sklearn_s={sklearn_s:.3f} "
            f"ratio={sklearn_s / ours_s:.1f} max_abs_diff={diff:.2e}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small budgets and forests (under about 3 minutes)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--data-dir", type=Path,
                        default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="joblib workers, the same for both engines")
    args = parser.parse_args(argv)
    for name in args.cases:
        print(run_case(name, data_dir=args.data_dir, quick=args.quick, n_jobs=args.n_jobs),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
