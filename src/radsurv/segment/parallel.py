"""Predicting many masks where :mod:`radsurv.compute` says: in this process, on local
worker processes (``compute.n_jobs``) or on a Dask cluster (``compute.scheduler``), with
the same masks, byte for byte, wherever they were predicted (issue 29).

:func:`predict_masks` is 01's inference loop (the cohort's masks of both segmenters,
:func:`radsurv.segment.inference.segment_cohort`, and the development-test part's,
:func:`radsurv.segment.stage.evaluate_devset_holdout`):

* **The mask cache stays in this process.** A :class:`~radsurv.segment.maskcache.CachedSegmenter`
  is read and written here, never by a worker. The tasks carry the list of the keys the
  cache holds (:meth:`~radsurv.segment.maskcache.CachedSegmenter.held`) and how a mask's
  key follows from its image's digest (:class:`~radsurv.segment.maskcache.MaskKeys`): a
  worker reads each of its images once, predicts those whose key is not held (the misses)
  and sends back only the digest of the others, whose masks are then read from the cache
  here; each predicted mask is stored here as it comes back. So no image is read twice,
  and with workers this process reads none.
* **Workers get the network, not a file.** A trained U-Net travels as a
  :class:`PortableUNet`: its parameters and its weights as bytes (a cluster's workers need
  not see ``build/<profile>/cache/segment/`` or a user's weights file); a worker rebuilds
  the network once (:meth:`PortableUNet.segmenter`, kept for the next task). On a cluster
  the bytes are sent once (``Client.scatter`` of the shared arguments). The classical
  baseline travels as itself.
* **The result does not depend on the worker.** Every task predicts with the same number
  of torch threads (``torch_threads``, 1 unless told: the number of threads changes a
  convolution's sums in the last bits, measured up to 3e-7 in a quick U-Net's
  probabilities with 1 against 2 threads), on the same device: the segmenter's own locally
  (CUDA when the stage's process has it), and on a cluster CUDA if every worker has it,
  else the CPU (:func:`cluster_device`), with cuDNN deterministic as after training. The
  device and the threads are in the mask's cache key (:func:`~radsurv.segment.maskcache.mask_key`).
  Nothing is drawn at random at inference.
* **Tasks of a few images.** The images are cut into tasks of ``batch_size`` images in
  input order (by default about four tasks per worker, at most 8 2D or 4 3D images each):
  a task's cost dwarfs its overhead, and the workers stay busy to the end. The masks are
  yielded with their index as they come back; callers put them in place, so the output
  does not depend on the order in which the tasks finish.
* **Flat memory.** A task holds image paths (or the images a caller passed); a worker
  reads its images, and sends back each mask's voxels and exact geometry
  (:func:`~radsurv.segment.maskcache.mask_arrays`), rebuilt here into the very image the
  segmenter returned. Nothing holds every image or every mask at once.

A worker on a cluster reads the images at the paths it is given, as 02's extraction does:
the build folder (``build/<profile>/00_cohort/images``, or a user's images) must be on a
filesystem every worker sees at the same path, and every worker must import radsurv at the
same version with the same ``requirements.lock`` (README, "Running on a cluster").
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from contextlib import ExitStack
from typing import Any, Iterator, Sequence

import numpy as np
import SimpleITK as sitk

from radsurv.compute import Compute, dask_client, iter_tasks
from radsurv.segment._common import ImageLike, as_image, image_digest
from radsurv.segment.maskcache import CachedSegmenter, MaskKeys, holds, mask_arrays, mask_from_arrays
from radsurv.segment.postprocess import SegmentationFlag, check_segmentation

__all__ = ["MAX_BATCH", "PortableUNet", "cluster_device", "predict_masks"]

#: The most images in one task, by the network's dimension: a 2D US image takes a tenth
#: of a second or so, a 3D MRI volume about half a second (the quick profile on one thread).
MAX_BATCH = {2: 8, 3: 4}

_REBUILT: dict[str, Any] = {}    # PortableUNet.digest -> the network rebuilt in this process
_REBUILT_LOCK = threading.Lock()
_KEEP = 4                        # networks kept per process (two modalities, with room)


def _is_network(segmenter) -> bool:
    """A trained :class:`~radsurv.segment.unet.UNetSegmenter` (a torch network in ``model_``)."""
    if getattr(segmenter, "model_", None) is None:
        return False
    from radsurv.segment.unet import UNetSegmenter

    return isinstance(segmenter, UNetSegmenter)


class PortableUNet:
    """A trained U-Net as a worker receives it: modality, parameters and weights (bytes),
    rebuilt on the worker on ``device``.

    Parameters
    ----------
    segmenter : UNetSegmenter
        Trained (or loaded).
    device : str
        Where the worker predicts (``"cpu"`` or ``"cuda"``; :func:`predict_masks` decides).

    Attributes
    ----------
    digest : str
        SHA-256 of the weights' bytes, the parameters and the device: the rebuilt network is
        kept under it in each worker process, so a worker rebuilds it once, not per task.
    """

    def __init__(self, segmenter, device: str):
        import torch

        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in segmenter.model_.state_dict().items()}, buffer)
        self.kind = type(segmenter)      # a subclass is rebuilt as itself
        self.modality = segmenter.modality
        self.params = dict(segmenter.params)
        self.weights = buffer.getvalue()
        self.device = str(device)
        h = hashlib.sha256(self.weights)
        h.update(json.dumps({"kind": f"{self.kind.__module__}.{self.kind.__qualname__}", "modality": self.modality,
                             "params": self.params, "device": self.device}, sort_keys=True, default=list).encode())
        self.digest = h.hexdigest()

    def __repr__(self) -> str:
        return f"PortableUNet({self.modality!r}, {len(self.weights)} bytes, device={self.device!r})"

    def segmenter(self):
        """The :class:`~radsurv.segment.unet.UNetSegmenter`, rebuilt in this process (once:
        later calls return the same object), as :meth:`UNetSegmenter.load` rebuilds one."""
        with _REBUILT_LOCK:
            seg = _REBUILT.get(self.digest)
            if seg is None:
                import torch

                seg = self.kind(self.modality, device=self.device, **self.params)
                seg.model_ = seg._build()
                state = torch.load(io.BytesIO(self.weights), map_location="cpu", weights_only=True)
                seg.model_.load_state_dict(state)
                seg.model_.eval()
                while len(_REBUILT) >= _KEEP:
                    _REBUILT.pop(next(iter(_REBUILT)))
                _REBUILT[self.digest] = seg
            return seg


def _has_cuda() -> bool:
    """Whether this process (a worker) can use CUDA."""
    import torch

    return bool(torch.cuda.is_available())


def cluster_device(client) -> str:
    """``"cuda"`` when every worker of the cluster has CUDA, else ``"cpu"``: one device for
    every task, so that a mask does not depend on the worker that predicted it."""
    answers = client.run(_has_cuda)
    return "cuda" if answers and all(answers.values()) else "cpu"


def _predict_batch(segmenter, images: Sequence[ImageLike], torch_threads: int | None,
                   border_margin_mm: float | None, keys: MaskKeys | None = None,
                   held: np.ndarray | None = None) -> list[tuple[str, dict | None, SegmentationFlag | None]]:
    """What a worker runs: for each image, its digest (for the mask's cache key) and,
    unless the cache holds the mask (its key, ``keys(digest)``, is among ``held``), the
    mask (as :func:`~radsurv.segment.maskcache.mask_arrays`) and, with ``border_margin_mm``,
    its check (:func:`~radsurv.segment.postprocess.check_segmentation`); ``None, None``
    for a mask the cache holds."""
    if isinstance(segmenter, PortableUNet):
        segmenter = segmenter.segmenter()
    if torch_threads:
        import torch

        # process-wide; every task of a run sets the same number, so tasks that share a
        # worker process (a Dask worker's threads) do not change each other's
        torch.set_num_threads(int(torch_threads))
        if str(getattr(segmenter, "device", "cpu")).startswith("cuda"):
            # cuDNN as UNetSegmenter.fit leaves it (MONAI's set_determinism), whether or
            # not this process trained the network
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    out = []
    for image in images:
        image = as_image(image)
        digest = image_digest(image)
        if keys is not None and holds(held, keys(digest)):
            out.append((digest, None, None))
            continue
        mask = segmenter.predict(image)
        flag = check_segmentation(mask, border_margin_mm) if border_margin_mm is not None else None
        out.append((digest, mask_arrays(mask), flag))
    return out


def _restore_torch(threads: int, deterministic: bool, benchmark: bool) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = deterministic, benchmark


def _batches(n: int, workers: int, max_batch: int, batch_size: int | None) -> list[range]:
    size = int(batch_size) if batch_size else max(1, min(max_batch, math.ceil(n / (4 * max(1, workers)))))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def predict_masks(images: Sequence[ImageLike], segmenter, *, n_jobs: int = 1, scheduler: Any = None,
                  border_margin_mm: float | None = None, torch_threads: int = 1, batch_size: int | None = None,
                  progress: bool = False, desc: str = "segmentation",
                  unit: str = "image") -> Iterator[tuple[int, sitk.Image, SegmentationFlag | None]]:
    """``segmenter.predict(image)`` for every image, where :mod:`radsurv.compute` says,
    yielded as ``(index, mask, flag)`` as each is ready.

    In this process (one worker, or one image) each image is read once, looked up in the
    cache and predicted on a miss, in order. On workers, each image is read once too, by
    the worker of its task: the tasks carry the list of the keys the cache holds
    (:meth:`~radsurv.segment.maskcache.CachedSegmenter.held`, sent once to a cluster) and
    the key of the segmenter's masks (:class:`~radsurv.segment.maskcache.MaskKeys`); a
    worker predicts an image whose key is not held, and sends back only the digest of one
    whose key is, whose mask is then read from the cache here. Each predicted mask is
    stored in the cache here. (An entry that was listed but cannot be read is predicted in
    a second round.)

    Parameters
    ----------
    images : sequence
        Paths (read where the mask is predicted) or SimpleITK images.
    segmenter
        A trained :class:`~radsurv.segment.unet.UNetSegmenter`, a
        :class:`~radsurv.segment.baseline.BaselineSegmenter` (anything with ``predict``,
        picklable for workers), or either wrapped in a
        :class:`~radsurv.segment.maskcache.CachedSegmenter`: then the cache is read and
        written here, and only the misses are predicted.
    n_jobs : int
        Local worker processes (1: this process; -1: every core); ignored with a scheduler.
    scheduler : str, distributed.Client or None
        A Dask scheduler address or client (``compute.scheduler``): the misses are
        predicted on its workers.
    border_margin_mm : float, optional
        With it, each mask is checked (:func:`~radsurv.segment.postprocess.check_segmentation`,
        on the worker that predicted it, or here for a cache hit); without, ``flag`` is None.
    torch_threads : int
        Torch threads of every prediction of a network, wherever it runs (in the key).
    batch_size : int, optional
        Images per prediction task (default: about four tasks per worker, at most
        :data:`MAX_BATCH`; one in this process).
    progress : bool
        A progress bar over the images (:func:`radsurv.progress.tqdm`).
    desc, unit : str
        The bar's label and unit.

    Yields
    ------
    (int, SimpleITK.Image, SegmentationFlag or None)
        The image's index in ``images``, its mask (the segmenter's output, or the cache
        entry's: the same voxels, geometry and pixel type) and its check.
    """
    from radsurv.progress import tqdm

    images = list(images)
    if not images:
        return
    cache = segmenter if isinstance(segmenter, CachedSegmenter) else None
    seg = cache.segmenter if cache is not None else segmenter
    network = _is_network(seg)
    compute = Compute(n_jobs=-1 if n_jobs is None else n_jobs, scheduler=scheduler)
    threads = int(torch_threads) if network else None
    dim = 3 if getattr(seg, "modality", None) == "mri" else 2
    with ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=len(images), disable=not progress, desc=desc, unit=unit))
        client = stack.enter_context(dask_client(scheduler)) if compute.backend == "dask" else None
        workers = sum(client.nthreads().values()) if client is not None else compute.n_jobs
        device = (cluster_device(client) if client is not None else str(seg.device)) if network else None
        if network:
            import torch

            # a task run in this process sets them: restored after
            before = torch.get_num_threads(), torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
            stack.callback(_restore_torch, *before)

        # the masks' keys, from the images' digests (the device and threads they are predicted with)
        keys = cache.keys(device=device, torch_threads=threads) if cache is not None else None

        def check(mask: sitk.Image) -> SegmentationFlag | None:
            return check_segmentation(mask, border_margin_mm) if border_margin_mm is not None else None

        def done(i: int, mask: sitk.Image, flag, image_hash: str):
            if cache is not None:
                cache.store(keys(image_hash), mask)
            bar.update()
            return i, mask, flag

        here = client is None and (compute.n_jobs < 2 or len(images) < 2)
        if here:
            # 1. in this process: image by image, one read each
            for i, image in enumerate(images):
                image = as_image(image)
                if cache is not None:
                    mask = cache.lookup(keys(image_digest(image)))
                    if mask is not None:
                        bar.update()
                        yield i, mask, check(mask)
                        continue
                (digest, arrays, flag), = _predict_batch(seg, [image], threads, border_margin_mm)
                yield done(i, mask_from_arrays(**arrays), flag, digest)
            return

        # 2. on workers, in tasks of a few images; the network as bytes, rebuilt once per
        # worker; a mask the cache holds is not predicted but read here
        shared = {"segmenter": PortableUNet(seg, device) if network else seg, "torch_threads": threads,
                  "border_margin_mm": border_margin_mm, "keys": keys,
                  "held": cache.held() if cache is not None else None}
        todo = list(range(len(images)))
        while todo:
            batches = _batches(len(todo), workers, MAX_BATCH[dim], batch_size)
            tasks = [{"images": [images[todo[j]] for j in batch]} for batch in batches]
            unreadable = []
            for t, results in iter_tasks(_predict_batch, tasks, shared, n_jobs=compute.n_jobs, scheduler=client):
                for j, (digest, arrays, flag) in zip(batches[t], results):
                    i = todo[j]
                    if arrays is not None:
                        yield done(i, mask_from_arrays(**arrays), flag, digest)
                        continue
                    mask = cache.lookup(keys(digest))
                    if mask is None:
                        unreadable.append(i)
                        continue
                    bar.update()
                    yield i, mask, check(mask)
            # entries listed but unreadable now: predicted, whatever the list says
            todo, shared = sorted(unreadable), {**shared, "held": None}
