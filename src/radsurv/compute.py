"""Where a loop of independent tasks runs: in this process, in local worker processes,
or on a Dask cluster (docs/design.md, "Compute").

The profile's ``compute`` section says it once for the whole run::

    compute:
      n_jobs: -1          # local worker processes (-1: every core)
      scheduler: null     # or a Dask scheduler address, "tcp://host:8786"

and every heavy loop over resamples or permutations, and 01's inference over images (in
tasks of a few images, :mod:`radsurv.segment.parallel`), goes through :func:`run_tasks` (or
:func:`iter_tasks`), which alone decides how:

* no scheduler, one worker (or one task): a plain loop in this process;
* no scheduler, several workers: joblib's loky processes (``n_jobs`` of them);
* a scheduler (an address or a ``distributed.Client``): the tasks are submitted to
  the cluster with Dask's own API; the arguments every task shares are sent once
  (``Client.scatter``), not once per task. ``n_jobs`` is then ignored: the cluster's
  workers decide.

02's feature extraction keeps its own joblib loop over patients (largest first) and, on a
cluster, joblib's Dask backend, but connects through :func:`dask_client` like the rest.

Each task draws its random numbers from its own stream (``[seed, STREAM_..., b]``,
:mod:`radsurv.seeds`), never from a worker's state (and 01's tasks predict with a fixed
number of torch threads on one device), so the results are the same
whichever backend runs them, however many workers there are and in whatever order they
finish; :func:`run_tasks` returns them in task order.

Workers on a cluster must import radsurv at the same version and with the same
dependencies (the same ``requirements.lock``) as the process that submits the tasks.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

__all__ = ["Compute", "dask_client", "iter_tasks", "run_tasks"]


@dataclass(frozen=True)
class Compute:
    """How a loop runs: ``n_jobs`` local worker processes, or the Dask ``scheduler``.

    Attributes
    ----------
    n_jobs : int
        Local worker processes (1: in this process; -1 or any value below 1: every
        core); ignored with a scheduler.
    scheduler : str, distributed.Client or None
        A Dask scheduler address (``"tcp://host:8786"``) or a connected
        ``distributed.Client``; None runs locally.
    """

    n_jobs: int = 1
    scheduler: Any = None

    def __post_init__(self):
        n = int(self.n_jobs)
        object.__setattr__(self, "n_jobs", n if n > 0 else max(1, os.cpu_count() or 1))  # -1: every core
        if isinstance(self.scheduler, str) and not self.scheduler.strip():
            raise ValueError("scheduler: an empty address; use None to run locally")

    @property
    def backend(self) -> str:
        """``"dask"``, ``"loky"`` (local processes) or ``"serial"`` (this process)."""
        if self.scheduler is not None:
            return "dask"
        return "loky" if int(self.n_jobs) > 1 else "serial"

    def describe(self) -> str:
        """One line for a log: where the tasks run."""
        if self.scheduler is not None:
            return f"Dask scheduler {_address(self.scheduler)}"
        return f"{self.n_jobs} local process(es)" if int(self.n_jobs) > 1 else "this process"


def _address(scheduler: Any) -> str:
    return scheduler if isinstance(scheduler, str) else getattr(getattr(scheduler, "scheduler", None), "address",
                                                                  repr(scheduler))


@contextmanager
def dask_client(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for the length of a loop: connected to an address (and
    closed after it), or the client given (left open for its owner).

    Every loop that runs on the cluster connects here: :func:`iter_tasks`, and 02's
    extraction (:func:`radsurv.features.extract.extract_patients`, which hands the client to
    joblib's Dask backend).
    """
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    client = Client(scheduler)
    try:
        yield client
    finally:
        client.close()


def _call(fn: Callable[..., Any], shared: Mapping[str, Any], task: Mapping[str, Any]) -> Any:
    """What a worker runs: ``fn(**shared, **task)``."""
    return fn(**shared, **task)


def _indexed(i: int, fn: Callable[..., Any], shared: Mapping[str, Any], task: Mapping[str, Any]) -> tuple[int, Any]:
    return i, fn(**shared, **task)


def iter_tasks(fn: Callable[..., Any], tasks: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None,
               n_jobs: int = 1, scheduler: Any = None, progress: bool = False, desc: str | None = None,
               unit: str = "task") -> Iterator[tuple[int, Any]]:
    """``fn(**shared, **task)`` for every task, yielded as ``(index, result)`` as each finishes.

    For loops that keep each result as it comes (a cache of finished resamples, so an
    interrupted run resumes); :func:`run_tasks` returns them in task order.

    Parameters
    ----------
    fn : callable
        A module-level function (workers import it by name).
    tasks : sequence of mapping
        Each task's own keyword arguments (``{"b": 3}``).
    shared : mapping, optional
        Keyword arguments every task shares (the data); sent to a cluster once.
    n_jobs : int
        Local worker processes (1: this process); ignored with a scheduler.
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client: the tasks run on its workers.
    progress : bool
        A progress bar (:func:`radsurv.progress.tqdm`).
    desc, unit : str
        The bar's label and unit.

    Yields
    ------
    (int, object)
        The task's index in ``tasks`` and ``fn``'s result. An exception of a task is
        raised here (the remaining tasks are cancelled). No task: nothing is started and
        no scheduler contacted.
    """
    from .progress import tqdm

    compute = Compute(n_jobs=n_jobs, scheduler=scheduler)
    shared = dict(shared or {})
    tasks = [dict(t) for t in tasks]
    if not tasks:   # nothing to run: no worker started, no scheduler contacted
        return
    backend = "serial" if compute.backend == "loky" and len(tasks) < 2 else compute.backend
    bar = tqdm(total=len(tasks), disable=not progress or not tasks, desc=desc, unit=unit)
    try:
        if backend == "serial":
            for i, task in enumerate(tasks):
                result = fn(**shared, **task)
                bar.update()
                yield i, result
        elif backend == "loky":
            from joblib import Parallel, delayed

            # batch_size=1: the tasks are long (a whole development each) and unequal
            parallel = Parallel(n_jobs=compute.n_jobs, backend="loky", return_as="generator_unordered", batch_size=1)
            for i, result in parallel(delayed(_indexed)(i, fn, shared, task) for i, task in enumerate(tasks)):
                bar.update()
                yield i, result
        else:
            yield from _on_dask(fn, tasks, shared, scheduler, bar)
    finally:
        bar.close()


def _on_dask(fn, tasks, shared, scheduler, bar) -> Iterator[tuple[int, Any]]:
    from distributed import as_completed

    with dask_client(scheduler) as client:
        futures = []
        try:
            # the shared arguments once, as one object under a key of its own (hash=False:
            # never confused with another loop's data)
            data = client.scatter([shared], hash=False)[0]
            futures = [client.submit(_call, fn, data, task, pure=False) for task in tasks]
            index = {f.key: i for i, f in enumerate(futures)}
            for future in as_completed(futures):
                result = future.result()   # raises the task's exception here
                bar.update()
                yield index[future.key], result
        finally:
            if futures:
                client.cancel(futures)


def run_tasks(fn: Callable[..., Any], tasks: Sequence[Mapping[str, Any]], shared: Mapping[str, Any] | None = None,
              n_jobs: int = 1, scheduler: Any = None, progress: bool = False, desc: str | None = None,
              unit: str = "task") -> list[Any]:
    """``[fn(**shared, **task) for task in tasks]``, run as :func:`iter_tasks` runs it.

    Returns
    -------
    list
        The results in the order of ``tasks``, whichever backend ran them.
    """
    results: list[Any] = [None] * len(tasks)
    for i, result in iter_tasks(fn, tasks, shared, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                                desc=desc, unit=unit):
        results[i] = result
    return results
