"""The heavy loops on a Dask cluster (issue 29): a ``distributed.LocalCluster`` of two
worker processes runs a tiny optimism bootstrap and a tiny permutation null, and their
tables equal the local run's exactly; the bootstrap's per-resample cache written on the
cluster is read back by a local run. The workers import radsurv as the test does (the
editable install), as a real cluster's workers must (README, "Running on a cluster")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.compute import run_tasks
from radsurv.models import design_matrix
from radsurv.models.six_models import RADSCORE
from radsurv.sensitivity.permutation import permutation_null
from radsurv.validation import development_data, optimism_bootstrap

REGIONS = ("us_intra", "us_peri", "mri_intra", "mri_peri")


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each; its address, as a profile names a scheduler."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def profile(quick_profile):
    # a smaller cross-validation than the quick profile's: the test checks equality, not values
    return {**quick_profile, "signatures": {**quick_profile["signatures"], "n_folds": 5, "nlambda": 30, "n_jobs": 1}}


def _cohort(seed: int = 1, n: int = 150, p: int = 4):
    """``n`` patients (70% training), four regions of ``p`` features, one feature of two
    regions in the hazard; ki67 carries signal, grade and an MRI descriptor none."""
    rng = np.random.default_rng(seed)
    idx = [f"P{i:03d}" for i in range(n)]
    X = pd.DataFrame({f"{r}__f{j}": rng.normal(size=n) for r in REGIONS for j in range(p)}, index=idx)
    clin = pd.DataFrame({"ki67": rng.normal(20, 8, n), "grade": rng.choice(["G1", "G2", "G3"], n),
                         "mri_tic": rng.choice(["persistent", "washout"], n)}, index=idx)
    lp = 0.5 * (X["us_intra__f0"] + X["mri_peri__f0"]) + 0.05 * (clin["ki67"] - 20)
    t, c = rng.exponential(60 * np.exp(-lp)), rng.uniform(24, 100, n)
    split = np.where(np.arange(n) < int(0.7 * n), "train", np.where(np.arange(n) % 2, "internal", "external"))
    outcome = pd.DataFrame({"split": split, "time": np.minimum(t, c), "event": (t <= c).astype(int)}, index=idx)
    coding = {"ki67": "numeric", "grade": ["G1", "G2", "G3"], "mri_tic": ["persistent", "washout"]}
    design = design_matrix(clin, coding, extra=pd.DataFrame({RADSCORE: np.zeros(n)}, index=idx))
    return X, outcome, design


def where(seed: int, b: int) -> tuple[float, int]:
    """A seeded task that also says which process ran it."""
    import os

    return float(np.random.default_rng([seed, b]).normal()), os.getpid()


def test_tasks_run_on_the_workers_with_the_local_results(cluster):
    import os

    from distributed import Client

    tasks = [{"b": b} for b in range(6)]
    local = run_tasks(where, tasks, {"seed": 3}, n_jobs=1)
    remote = run_tasks(where, tasks, {"seed": 3}, scheduler=cluster)       # an address: a client of its own
    with Client(cluster) as client:                                          # or a client already connected
        again = run_tasks(where, tasks, {"seed": 3}, scheduler=client)
        workers = set(client.run(os.getpid).values())
    assert [v for v, _ in remote] == [v for v, _ in again] == [v for v, _ in local]
    assert {pid for _, pid in remote} <= workers and os.getpid() not in workers


def test_the_optimism_bootstrap_on_a_cluster_equals_the_local_run(cluster, profile, tmp_path):
    X, outcome, design = _cohort()
    dev = development_data(X, set(), design, ["ki67", "grade"], ["mri_tic"], outcome, profile, None, None)
    boot, calib = optimism_bootstrap(dev, 3, seed=5, n_jobs=1, progress=False)
    on_cluster, calib_cluster = optimism_bootstrap(dev, 3, seed=5, progress=False, scheduler=cluster,
                                                   cache_dir=tmp_path)
    pd.testing.assert_frame_equal(on_cluster, boot)
    pd.testing.assert_frame_equal(calib_cluster, calib)
    assert (boot["failed"] == "").all() and sorted(boot["resample"].unique()) == [0, 1, 2]
    # the resamples the cluster finished are in the cache: a local run reads them all back
    assert len(list(tmp_path.glob("*/resample-*.json"))) == 3
    cached, _ = optimism_bootstrap(dev, 3, seed=5, n_jobs=1, progress=False, cache_dir=tmp_path,
                                   scheduler="tcp://127.0.0.1:1")   # never contacted: nothing left to run
    pd.testing.assert_frame_equal(cached, boot)


def test_the_permutation_null_on_a_cluster_equals_the_local_run(cluster, profile):
    X, outcome, _ = _cohort(seed=2)
    X = X[[c for c in X.columns if c.startswith("mri_")]]
    params = profile["signatures"]
    local = permutation_null(X, outcome, set(), params, seed=2, n_permutations=3, n_jobs=1)
    remote = permutation_null(X, outcome, set(), params, seed=2, n_permutations=3, scheduler=cluster)
    pd.testing.assert_frame_equal(remote, local)
    assert list(local["permutation"]) == [1, 2, 3] and (local["failed"] == "").all()
