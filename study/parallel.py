"""Seeds and parallel back ends shared by the resampling and permutation engines.

Two rules make every number independent of ``n_jobs`` and of the back end:

- randomness comes from :class:`numpy.random.SeedSequence` children spawned in the parent
  *before* any work is dispatched (one child per repeat, per permutation, ...), never from
  the global RNG or from a generator shared between workers;
- linear algebra runs with one BLAS thread in every worker and in the parent (multi-threaded
  BLAS may sum in a different order, and on a busy two-core machine it was also 10-40 times
  slower for the small matrices of this study because its threads spin against each other).

Back ends are joblib's: ``"loky"`` (processes, the default), ``"threading"`` and ``"dask"``
(joblib's ``dask.distributed`` back end; it needs a running ``distributed.Client``, and
``n_jobs`` then counts Dask worker threads, ``-1`` meaning all of them).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from numbers import Integral

import joblib
import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["BACKENDS", "as_seed_sequence", "check_n_jobs", "executor", "seed_for", "seed_to_int"]

#: Parallel back ends accepted by the engines.
BACKENDS = ("loky", "threading", "dask")


def as_seed_sequence(random_state: int | np.random.SeedSequence, *,
                     name: str = "random_state") -> np.random.SeedSequence:
    """A fresh :class:`~numpy.random.SeedSequence` equal to ``random_state``.

    A ``SeedSequence`` argument is copied (same entropy and spawn key, no children spawned
    yet), so calling a function twice with the same object gives the same result: spawning
    from the caller's object would advance its internal child counter.

    Parameters
    ----------
    random_state : int or SeedSequence
        A non-negative integer seed, or a seed sequence (for example a child spawned by the
        caller for this analysis). ``None`` is refused: results must be reproducible.
    name : str
        The parameter's name, for error messages.
    """
    if isinstance(random_state, np.random.SeedSequence):
        return np.random.SeedSequence(
            entropy=random_state.entropy,
            spawn_key=random_state.spawn_key,
            pool_size=random_state.pool_size,
        )
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if int(random_state) < 0:
            raise ValueError(f"{name}={random_state!r} must be a non-negative integer")
        return np.random.SeedSequence(int(random_state))
    raise ValueError(
        f"{name}={random_state!r} must be a non-negative int or a numpy.random.SeedSequence "
        "(None is refused so that every result can be reproduced)"
    )


#: The analyses that draw randomness; each has its own branch of the master seed.
PURPOSES = {"folds": 0, "model": 1, "permutation": 2, "bootstrap": 3, "demo": 4,
            "univariate": 5, "calibration": 6}


def seed_for(seed: int, *names: str, purpose: str) -> np.random.SeedSequence:
    """The seed sequence child of one analysis, keyed by names rather than positions.

    ``SeedSequence(seed, spawn_key=(crc32(name) ..., PURPOSES[purpose]))``: the child of a
    (dataset, task, model, ...) does not depend on which other analyses run, or in which
    order, so adding a cell or a replicate never changes the numbers of another.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose={purpose!r}; expected one of {', '.join(PURPOSES)}")
    key = (*tuple(zlib.crc32(name.encode()) for name in names), PURPOSES[purpose])
    return np.random.SeedSequence(seed, spawn_key=key)


def seed_to_int(random_state: int | np.random.SeedSequence, *,
                name: str = "random_state") -> int:
    """An ``int`` seed for a scikit-learn estimator.

    An integer is passed through unchanged (so ``random_state=0`` means what it means in
    scikit-learn); a seed sequence gives a 32-bit integer drawn from its state.
    """
    if isinstance(random_state, np.random.SeedSequence):
        return int(as_seed_sequence(random_state, name=name).generate_state(1, np.uint32)[0])
    return int(as_seed_sequence(random_state, name=name).entropy)


def check_n_jobs(n_jobs: int) -> int:
    """Validate joblib's ``n_jobs`` (a non-zero integer; ``-1`` means all workers)."""
    if not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs={n_jobs!r} must be a non-zero integer (-1 for all workers)")
    return int(n_jobs)


def _check_dask() -> None:
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "backend='dask' needs dask.distributed, which is not installed; install it with "
            "pip install 'study[dask]' (or 'dask[distributed]')"
        ) from None
    try:
        distributed.get_client()
    except ValueError:
        raise ValueError(
            "backend='dask' needs a running distributed.Client: create one first, for example "
            "`client = distributed.Client(distributed.LocalCluster())`, or use backend='loky'"
        ) from None


@contextmanager
def executor(n_jobs: int = 1, backend: str = "loky") -> Iterator[tuple[joblib.Parallel, int]]:
    """A joblib pool that yields results in submission order, and its worker count.

    Inside the context, BLAS is limited to one thread in this process; loky workers get one
    BLAS / OpenMP thread each (``inner_max_num_threads=1``); Dask's worker processes already
    start with one thread per library.

    Yields
    ------
    pool : joblib.Parallel
        ``pool(tasks)`` takes an iterable of ``joblib.delayed`` calls and returns a generator
        of their results in submission order.
    n_workers : int
        The effective number of parallel workers.
    """
    n_jobs = check_n_jobs(n_jobs)
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown; expected one of {', '.join(BACKENDS)}")
    with ExitStack() as stack:
        if backend == "dask":
            _check_dask()
            stack.enter_context(joblib.parallel_config(backend="dask"))
        elif backend == "loky":
            stack.enter_context(joblib.parallel_config(backend="loky", inner_max_num_threads=1))
        else:
            stack.enter_context(joblib.parallel_config(backend="threading"))
        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        n_workers = max(1, int(joblib.effective_n_jobs(n_jobs)))
        pool = stack.enter_context(joblib.Parallel(n_jobs=n_jobs, return_as="generator"))
        yield pool, n_workers

