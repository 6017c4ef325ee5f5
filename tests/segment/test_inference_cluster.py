"""01's inference where radsurv.compute says (issue 29): the masks of a 2D and a 3D U-Net
and of the classical baseline, predicted on a ``distributed.LocalCluster`` of two worker
processes, on two local processes and in this process, are the same array for array (and
the same as ``predict`` called directly); the mask cache stays in this process; every
prediction has the fixed number of torch threads, wherever it runs.

The images are of unequal size, the largest first and one per task, so the tasks finish
out of order: the masks must still come back to their own image."""

from __future__ import annotations

import os

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from radsurv.segment._common import binary_image
from radsurv.segment.baseline import BaselineSegmenter
from radsurv.segment.inference import segment_cohort
from radsurv.segment.maskcache import CachedSegmenter
from radsurv.segment.parallel import PortableUNet, predict_masks
from radsurv.segment.unet import UNetSegmenter

from ._segment_synth import disc_case, sphere_case

# Small networks with seeded random weights (no training: the test compares masks, not
# their quality; the thresholds give each image a lesion of its own)
SMALL_US = dict(spacing_mm=(0.3, 0.3), patch=(32, 32), channels=(4, 8), strides=(2,), seed=0)
SMALL_MRI = dict(spacing_mm=(1.0, 1.0, 2.0), patch=(16, 16, 8), channels=(4, 8), strides=(2,), seed=0)


def _network(modality: str, init: int, **params) -> UNetSegmenter:
    torch.manual_seed(init)
    net = UNetSegmenter(modality, device="cpu", **params)
    net.model_ = net._build().eval()
    return net


class ThreadsUNet(UNetSegmenter):
    """A U-Net whose "mask" is the number of torch threads it predicted with (a worker
    rebuilds it as itself, :class:`PortableUNet`)."""

    def predict(self, image):
        mask = super().predict(image)
        return binary_image(np.full(sitk.GetArrayFromImage(mask).shape, torch.get_num_threads()), mask)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def us():
    net = _network("us", 1, **SMALL_US)
    # the largest image first: its task finishes after the small ones'
    return net, [disc_case(10, n=160, radius_px=(20, 30))[0]] + [disc_case(11 + i)[0] for i in range(3)]


@pytest.fixture(scope="module")
def mri():
    net = _network("mri", 2, **SMALL_MRI)
    return net, [sphere_case(10, shape=(24, 48, 48))[0]] + [sphere_case(11 + i)[0] for i in range(2)]


def _masks(images, segmenter, **where) -> list[sitk.Image]:
    out: list = [None] * len(images)
    for i, mask, _ in predict_masks(images, segmenter, batch_size=1, **where):
        assert out[i] is None
        out[i] = mask
    return out


def _same(got: list[sitk.Image], expected: list[sitk.Image]) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
        assert a.GetPixelID() == b.GetPixelID() and a.GetSize() == b.GetSize()
        assert a.GetSpacing() == b.GetSpacing() and a.GetOrigin() == b.GetOrigin()
        assert a.GetDirection() == b.GetDirection()


def _direct(segmenter, images) -> list[sitk.Image]:
    torch.set_num_threads(1)
    masks = [segmenter.predict(image) for image in images]
    # a test that compares anything: the masks differ from image to image
    assert len({sitk.GetArrayFromImage(m).tobytes() for m in masks}) == len(masks)
    return masks


def test_the_masks_on_a_cluster_equal_those_of_this_process(cluster, us, mri):
    # the classical baseline finds dark lesions
    dark = [disc_case(20 + i, n=96, spacing=0.15, bright=False, radius_px=(12, 20))[0] for i in range(3)]
    for net, images in (us, mri, (BaselineSegmenter("us"), dark)):
        _same(_masks(images, net, scheduler=cluster), _direct(net, images))


def test_two_local_processes_equal_this_process(us, mri):
    for net, images in (us, mri):
        _same(_masks(images, net, n_jobs=2), _masks(images, net, n_jobs=1))
    # the default batches (several images a task) too, and a PortableUNet rebuilds the same network
    net, images = us
    pairs = list(predict_masks(images, net, n_jobs=2))
    assert sorted(i for i, _, _ in pairs) == list(range(len(images)))
    _same([m for _, m in sorted(((i, m) for i, m, _ in pairs), key=lambda p: p[0])], _direct(net, images))
    _same([PortableUNet(net, "cpu").segmenter().predict(image) for image in images], _direct(net, images))


def test_every_prediction_has_the_fixed_torch_threads_wherever_it_runs(cluster, us):
    net, images = us
    threads = ThreadsUNet("us", device="cpu", **SMALL_US)
    threads.model_ = net.model_
    torch.set_num_threads(2)   # this process's own setting: not the tasks'
    for where in ({"n_jobs": 1}, {"n_jobs": 2}, {"scheduler": cluster}):
        for mask in _masks(images[:3], threads, **where):
            assert set(np.unique(sitk.GetArrayFromImage(mask))) == {1}, where
        assert torch.get_num_threads() == 2, where   # and left as it was
    assert {int(np.unique(sitk.GetArrayFromImage(m))[0]) for m in
            _masks(images[:2], threads, n_jobs=1, torch_threads=2)} == {2}


def test_the_cache_stays_here_and_a_cluster_run_writes_what_a_local_run_reads(cluster, us, tmp_path, monkeypatch):
    net, images = us
    cases = [{"patient_id": f"P{i}", "image": image} for i, image in enumerate(images)]
    cache = tmp_path / "masks"
    on_cluster = segment_cohort(cases, CachedSegmenter(net, cache), tmp_path / "cluster", scheduler=cluster,
                                progress=False, policy="exclude", border_margin_mm=1.0, batch_size=2)
    assert len(list(cache.rglob("*.npz"))) == len(images)
    assert all(os.path.dirname(p) == str(tmp_path / "cluster") for p in on_cluster["auto_mask"])
    # a local run predicts nothing: every mask is the cluster's, read here
    monkeypatch.setattr(UNetSegmenter, "predict", lambda *a: (_ for _ in ()).throw(AssertionError("predicted")))
    warm = CachedSegmenter(net, cache)
    local = segment_cohort(cases, warm, tmp_path / "local", n_jobs=1, progress=False, policy="exclude",
                           border_margin_mm=1.0)
    assert (warm.hits, warm.misses) == (len(images), 0)
    for column in ("patient_id", "mask", "source", "flag", "reason", "action"):
        got = on_cluster[column].map(lambda v: os.path.basename(v) if isinstance(v, str) else v)
        want = local[column].map(lambda v: os.path.basename(v) if isinstance(v, str) else v)
        assert list(got) == list(want), column
    for a, b in zip(on_cluster["auto_mask"], local["auto_mask"]):
        assert open(a, "rb").read() == open(b, "rb").read()
    monkeypatch.undo()
    # on workers too the held masks are read here, not predicted; an entry that cannot be
    # read any more is predicted again (and stored again)
    entry = next(cache.rglob("*.npz"))
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])
    again = CachedSegmenter(net, cache)
    on_workers = segment_cohort(cases, again, tmp_path / "workers", n_jobs=2, progress=False, policy="exclude",
                                border_margin_mm=1.0, batch_size=2)
    assert (again.hits, again.misses) == (len(images) - 1, 1) and entry.read_bytes() == good
    for a, b in zip(on_workers["auto_mask"], local["auto_mask"]):
        assert open(a, "rb").read() == open(b, "rb").read()
    # and the files are those of a plain local run without the cache
    plain = segment_cohort(cases, net, tmp_path / "plain", n_jobs=2, progress=False, policy="exclude",
                           border_margin_mm=1.0)
    for a, b in zip(plain["auto_mask"], local["auto_mask"]):
        assert open(a, "rb").read() == open(b, "rb").read()
