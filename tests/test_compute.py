"""radsurv.compute, the one place deciding where a loop of seeded tasks runs: the same
results in task order in this process and on local worker processes, the shared
arguments passed to every task, a task's error raised to the caller, and the setting's
checks. The same on a Dask cluster: tests/test_compute_cluster.py."""

from __future__ import annotations

import os

import numpy as np
import pytest

from radsurv.compute import Compute, iter_tasks, run_tasks


def draw(data: np.ndarray, seed: int, b: int) -> dict:
    """A seeded task: its own stream ``[seed, b]``, a sum over the shared data, the process."""
    rng = np.random.default_rng([seed, b])
    return {"b": b, "value": float(rng.normal() + data.sum()), "pid": os.getpid()}


def fails_on_three(b: int) -> int:
    if b == 3:
        raise ValueError(f"task {b} cannot be fitted")
    return b


def test_local_processes_give_the_serial_results_in_task_order():
    data = np.arange(5.0)
    tasks = [{"b": b} for b in (4, 0, 3, 1, 2, 5)]
    one = run_tasks(draw, tasks, {"data": data, "seed": 7}, n_jobs=1)
    two = run_tasks(draw, tasks, {"data": data, "seed": 7}, n_jobs=2)
    # each task its own stream: values computed here independently of run_tasks
    expected = [float(np.random.default_rng([7, b]).normal() + 10.0) for b in (4, 0, 3, 1, 2, 5)]
    assert [r["value"] for r in one] == expected
    assert [r["value"] for r in two] == expected and [r["b"] for r in two] == [4, 0, 3, 1, 2, 5]
    assert {r["pid"] for r in one} == {os.getpid()}                      # n_jobs=1: this process
    assert os.getpid() not in {r["pid"] for r in two}                    # n_jobs=2: worker processes


def test_iter_tasks_yields_every_index_once():
    tasks = [{"b": b} for b in range(5)]
    got = dict(iter_tasks(draw, tasks, {"data": np.zeros(1), "seed": 1}, n_jobs=2))
    assert sorted(got) == list(range(5)) and [got[i]["b"] for i in range(5)] == list(range(5))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_failing_task_raises_its_error(n_jobs):
    with pytest.raises(ValueError, match="task 3 cannot be fitted"):
        run_tasks(fails_on_three, [{"b": b} for b in range(5)], n_jobs=n_jobs)


def test_the_setting():
    cores = max(1, os.cpu_count() or 1)
    assert Compute(-1).n_jobs == cores and Compute(0).n_jobs == cores
    assert Compute(1).backend == "serial" and Compute(2).backend == "loky"
    assert Compute(4, "tcp://host:8786").backend == "dask"
    assert Compute(4, "tcp://host:8786").describe() == "Dask scheduler tcp://host:8786"
    with pytest.raises(ValueError, match="empty address"):
        Compute(1, " ")
    assert run_tasks(draw, [], {"data": np.zeros(1), "seed": 1}, n_jobs=2) == []
