"""A content-keyed cache of predicted masks, so that a hand run of 01 (or a second build)
reads the masks the pipeline's build predicted instead of running the networks again.

:class:`CachedSegmenter` wraps a segmenter (a trained
:class:`~radsurv.segment.unet.UNetSegmenter`, or a
:class:`~radsurv.segment.baseline.BaselineSegmenter`): its ``predict`` looks the image
up in the cache and, on a miss, predicts and stores the mask. Everything else (``params``,
``predict_proba``, ``history_``, ``cache_``...) is the wrapped segmenter's. The
pipeline's cache is ``build/<profile>/cache/segment/masks/``.

The key (:func:`mask_key`) covers everything a predicted mask depends on:

* the image: its voxels, size, spacing, origin, direction and pixel type
  (:func:`radsurv.imaging.io.image_digest`; a path is read first, so the key is the
  same for a path and for the image read from it);
* the segmenter: its class, every parameter (:meth:`get_params`: the inference
  settings, threshold, post-processing, and the training settings too), and for a
  network the bytes of every tensor of its weights (:func:`weights_digest`), the
  device and torch's number of threads;
* the code: the bytes of :data:`CODE_FILES` (the modules ``predict`` runs, and this
  one) and the numpy, SciPy, SimpleITK, torch and MONAI versions (:func:`code_digest`).

One entry, ``<cache_dir>/<key[:2]>/<key>.npz``, holds the mask's voxels and its exact
geometry (float64, as SimpleITK gave them), and the key again; a hit rebuilds the very
image ``predict`` returned, so the files written from it are byte-identical. An entry is
written to a temporary file and renamed into place (:func:`os.replace`), so a reader
never sees a partial one; an entry that cannot be read, or that holds another key, is a
miss (and is replaced).

When the masks are predicted by workers (local processes or a Dask cluster,
:func:`radsurv.segment.parallel.predict_masks`), the cache is still read and written only
by the process that holds the :class:`CachedSegmenter` (:meth:`CachedSegmenter.lookup`,
:meth:`CachedSegmenter.store`); the workers get the list of the keys it holds
(:meth:`CachedSegmenter.held`) and the key as a function of the image's digest
(:class:`MaskKeys`, with the device and the number of torch threads the workers predict
with), predict only the images whose key is not held, and never touch the folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radsurv.segment._common import ImageLike, as_image, image_digest

__all__ = ["CODE_FILES", "CachedSegmenter", "MaskKeys", "code_digest", "holds", "mask_arrays", "mask_from_arrays",
           "mask_key", "mask_keys", "weights_digest"]

log = logging.getLogger(__name__)

_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parents[1]  # src/radsurv

#: The modules whose code determines a predicted mask (relative to the package): the
#: segmenters, what they import from radsurv, and this module (the entry layout).
CODE_FILES = (
    "segment/unet.py",
    "segment/baseline.py",
    "segment/data.py",
    "segment/postprocess.py",
    "segment/_common.py",
    "segment/maskcache.py",
    "imaging/io.py",
    "exceptions.py",
    "progress.py",
)


@lru_cache(maxsize=None)
def _versions() -> str:
    import scipy

    out = f"numpy {np.__version__}|scipy {scipy.__version__}|SimpleITK {sitk.Version_VersionString()}"
    try:  # the baseline runs without torch; a network's key always has it
        import monai
        import torch

        out += f"|torch {torch.__version__}|monai {monai.__version__}"
    except ImportError:  # pragma: no cover - torch is in requirements.lock
        pass
    return out


def code_digest() -> str:
    """Hash of the inference code: the bytes of :data:`CODE_FILES` and the library versions."""
    h = hashlib.sha256()
    for name in CODE_FILES:
        h.update(f"|{name}|".encode())
        h.update((_PACKAGE / name).read_bytes())
    h.update(_versions().encode())
    return h.hexdigest()


def weights_digest(segmenter) -> str | None:
    """SHA-256 of a network's weights (every tensor's name, dtype, shape and bytes, in the
    state dict's order); None for a segmenter without a network (``model_``)."""
    model = getattr(segmenter, "model_", None)
    if model is None:
        return None
    import torch

    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"|{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (tuple, set, np.ndarray)):
        return list(x)
    raise TypeError(f"cannot put {type(x).__name__} into a mask cache key")


def _segmenter_description(segmenter, weights: str | None, device: str | None = None) -> dict[str, Any]:
    kind = type(segmenter)
    description = {"format": _FORMAT, "segmenter": f"{kind.__module__}.{kind.__qualname__}",
                   "params": segmenter.get_params(), "weights": weights}
    if weights is not None:
        description["device"] = str(device if device is not None else getattr(segmenter, "device", "cpu"))
    return description


class MaskKeys:
    """The key of a segmenter's mask from the image's digest alone (:func:`mask_key` with
    everything else fixed): picklable, so a worker that has read an image can tell
    whether the cache holds its mask (:func:`radsurv.segment.parallel.predict_masks`).

    Parameters
    ----------
    description : dict
        The key's description of the segmenter, the device, the threads and the code.
    """

    def __init__(self, description: dict[str, Any]):
        self.description = description

    def __call__(self, image_hash: str) -> str:
        """The key of the mask of the image whose digest is ``image_hash``."""
        return hashlib.sha256(json.dumps({**self.description, "image": image_hash}, sort_keys=True,
                                         separators=(",", ":"), default=_plain).encode()).hexdigest()


def mask_keys(segmenter, *, weights: str | None = None, code: str | None = None, device: str | None = None,
              torch_threads: int | None = None) -> MaskKeys:
    """The :class:`MaskKeys` of ``segmenter`` (the arguments as for :func:`mask_key`)."""
    if weights is None:
        weights = weights_digest(segmenter)
    description = _segmenter_description(segmenter, weights, device)
    if weights is not None:
        if torch_threads is None:
            import torch

            torch_threads = torch.get_num_threads()
        # the number of threads can change a convolution's sums in the last bits
        # (measured: up to 3e-7 in a quick U-Net's probabilities, 1 against 2 threads)
        description["torch_threads"] = int(torch_threads)
    description["code"] = code if code is not None else code_digest()
    return MaskKeys(description)


def mask_key(segmenter, image: ImageLike, *, weights: str | None = None, code: str | None = None,
             image_hash: str | None = None, device: str | None = None, torch_threads: int | None = None) -> str:
    """Content key (64 hex digits) of ``segmenter.predict(image)``.

    Parameters
    ----------
    segmenter
        A :class:`~radsurv.segment.unet.UNetSegmenter` or
        :class:`~radsurv.segment.baseline.BaselineSegmenter` (anything with
        ``get_params``; a network in ``model_``).
    image
        The image or its path (read: the key is the voxels' and geometry's).
    weights, code, image_hash
        Precomputed :func:`weights_digest`, :func:`code_digest` and image digest.
    device, torch_threads
        For a network: the device and the number of torch threads the mask is (or was)
        predicted with, when not the segmenter's ``device`` and this process's
        ``torch.get_num_threads()`` (:func:`radsurv.segment.parallel.predict_masks`
        predicts on a worker with a fixed number of threads); ignored for a segmenter
        without a network.
    """
    keys = mask_keys(segmenter, weights=weights, code=code, device=device, torch_threads=torch_threads)
    return keys(image_hash if image_hash is not None else image_digest(as_image(image)))


def _geometry(image: sitk.Image) -> dict[str, np.ndarray]:
    return {"spacing": np.asarray(image.GetSpacing(), dtype="<f8"),
            "origin": np.asarray(image.GetOrigin(), dtype="<f8"),
            "direction": np.asarray(image.GetDirection(), dtype="<f8")}


def mask_arrays(mask: sitk.Image) -> dict[str, np.ndarray]:
    """A mask as plain arrays: ``voxels`` (numpy order, its pixel type) and its exact
    geometry (``spacing``, ``origin``, ``direction``, float64 as SimpleITK gives them):
    what a cache entry holds, and what a worker sends back
    (:func:`radsurv.segment.parallel.predict_masks`)."""
    return {"voxels": sitk.GetArrayFromImage(mask), **_geometry(mask)}


def mask_from_arrays(voxels: np.ndarray, spacing, origin, direction) -> sitk.Image | None:
    """The very image :func:`mask_arrays` took apart (None if the arrays do not fit
    together): the files written from it are byte-identical to the original's."""
    image = sitk.GetImageFromArray(voxels)
    if image.GetDimension() != len(spacing) or len(direction) != len(spacing) ** 2:
        return None
    image.SetSpacing([float(v) for v in spacing])
    image.SetOrigin([float(v) for v in origin])
    image.SetDirection([float(v) for v in direction])
    return image


def _read(path: Path, key: str) -> sitk.Image | None:
    """The entry's mask, or None (absent, unreadable, or another key's)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key or int(z["format"]) != _FORMAT:
                return None
            voxels, spacing, origin, direction = z["voxels"], z["spacing"], z["origin"], z["direction"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("mask cache entry %s unreadable (%s): predicting again", path.name, err)
        return None
    return mask_from_arrays(voxels, spacing, origin, direction)


def _write(path: Path, key: str, mask: sitk.Image) -> None:
    """Store ``mask`` under ``key``: a temporary file, renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}.tmp.npz")
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, key=np.array(key), format=np.array(_FORMAT), **mask_arrays(mask))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def holds(held: np.ndarray | None, key: str) -> bool:
    """Whether ``key`` is among the keys of :meth:`CachedSegmenter.held` (None: no cache)."""
    if held is None or not len(held):
        return False
    k = key.encode("ascii")
    i = int(np.searchsorted(held, k))
    return i < len(held) and held[i] == k


class CachedSegmenter:
    """``segmenter`` whose ``predict`` goes through the mask cache in ``cache_dir``.

    Parameters
    ----------
    segmenter
        A trained U-Net or the classical baseline. Its weights and parameters are
        digested once, here: do not train or change it while wrapped.
    cache_dir
        The cache folder (the pipeline's: ``build/<profile>/cache/segment/masks/``).

    Attributes
    ----------
    hits, misses : int
        How many masks were read from the cache and how many were predicted.
    """

    def __init__(self, segmenter, cache_dir: str | Path):
        if isinstance(segmenter, CachedSegmenter):
            segmenter = segmenter.segmenter
        self.segmenter = segmenter
        self.cache_dir = Path(cache_dir)
        self._weights = weights_digest(segmenter)
        self._code = code_digest()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str):
        # only for what this wrapper does not have itself: the segmenter's attributes
        if name == "segmenter":
            raise AttributeError(name)
        return getattr(self.segmenter, name)

    def __getstate__(self) -> dict:
        # a lock does not pickle (the pipeline keeps the cache in the stage's process:
        # radsurv.segment.parallel.predict_masks sends workers the segmenter, not this)
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CachedSegmenter({self.segmenter!r}, {str(self.cache_dir)!r})"

    def key(self, image: ImageLike | None, *, image_hash: str | None = None, device: str | None = None,
            torch_threads: int | None = None) -> str:
        """The content key of ``predict(image)`` (:func:`mask_key`). ``image_hash``: the
        image's digest, computed elsewhere (``image`` is then not read: None will do);
        ``device`` and ``torch_threads``: those the mask is predicted with, when not the
        segmenter's device and this process's threads (a worker's,
        :func:`radsurv.segment.parallel.predict_masks`)."""
        return mask_key(self.segmenter, image, weights=self._weights, code=self._code, image_hash=image_hash,
                        device=device, torch_threads=torch_threads)

    def keys(self, *, device: str | None = None, torch_threads: int | None = None) -> MaskKeys:
        """The keys of this segmenter's masks from the images' digests (:class:`MaskKeys`),
        for the ``device`` and ``torch_threads`` the masks are predicted with (as :meth:`key`)."""
        return mask_keys(self.segmenter, weights=self._weights, code=self._code, device=device,
                         torch_threads=torch_threads)

    def held(self) -> np.ndarray:
        """The keys of the entries in the folder now, sorted (``S64``: a compact list to
        send to workers, :func:`radsurv.segment.parallel.predict_masks`; see :func:`holds`)."""
        names = set()
        if self.cache_dir.is_dir():
            for path in self.cache_dir.glob("??/*.npz"):
                if len(path.stem) == 64 and all(c in "0123456789abcdef" for c in path.stem):
                    names.add(path.stem.encode("ascii"))
        return np.array(sorted(names), dtype="S64")

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` lies."""
        return self.cache_dir / key[:2] / f"{key}.npz"

    def lookup(self, key: str) -> sitk.Image | None:
        """The mask stored under ``key`` (counted as a hit), or None."""
        mask = _read(self.path(key), key)
        if mask is not None:
            with self._lock:
                self.hits += 1
        return mask

    def store(self, key: str, mask: sitk.Image) -> None:
        """Store a mask predicted for ``key`` (counted as a miss): how the process that
        holds the cache keeps the masks its workers predicted."""
        _write(self.path(key), key, mask)
        with self._lock:
            self.misses += 1

    def predict(self, image: ImageLike) -> sitk.Image:
        """The wrapped segmenter's ``predict(image)``: read from the cache, or predicted
        and stored."""
        image = as_image(image)
        key = self.key(image)
        mask = self.lookup(key)
        if mask is not None:
            return mask
        mask = self.segmenter.predict(image)
        self.store(key, mask)
        return mask
