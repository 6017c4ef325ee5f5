"""MONAI U-Net segmenter for US (2D) and MRI (3D), with a content-keyed weight cache.

``UNetSegmenter(modality="us"|"mri", **params).fit(images, masks)`` trains on the
CPU (or on a GPU when one is visible, with no code change), selects the epoch with
the best Dice on a validation split of the *development* data only, and
``predict(image)`` returns a post-processed binary mask with the input's geometry.
:func:`train_or_load` caches trained weights under a key made from the training
files' content, the parameters and the code version.

Reproducibility: ``fit`` seeds MONAI / torch / numpy / random (``set_determinism``),
the augmentation pipeline and the patch sampler from ``params["seed"]``; on the CPU
with the same number of threads the same seed gives the same weights.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import SimpleITK as sitk
import torch

from radsurv.exceptions import NotFittedError
from radsurv.segment._common import ImageLike, as_image, binary_image, image_digest
from radsurv.segment.data import default_params, ndim_of, numpy_order, prepare, to_network_dim, train_transform
from radsurv.segment.postprocess import postprocess

__all__ = ["cache_key", "code_version", "train_or_load", "UNetSegmenter"]

log = logging.getLogger(__name__)

_FORMAT = 1
_TUPLE_KEYS = ("spacing_mm", "patch", "channels", "strides", "percentiles", "flip_axes")


def code_version() -> str:
    """Hash of the code that determines trained weights: this package's data, model and
    post-processing modules plus the radsurv, torch and MONAI versions."""
    import monai

    import radsurv

    h = hashlib.sha256()
    for name in ("radsurv.segment.data", "radsurv.segment.postprocess", "radsurv.segment._common"):
        h.update(Path(importlib.import_module(name).__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(f"{radsurv.__version__}|{torch.__version__}|{monai.__version__}".encode())
    return h.hexdigest()[:16]


def _plain(x) -> torch.Tensor:
    """A plain tensor from a MONAI MetaTensor or an array (stacking MetaTensors carries
    their metadata along for nothing)."""
    return x.as_tensor() if hasattr(x, "as_tensor") else torch.as_tensor(np.asarray(x))


def _dice_np(p: np.ndarray, t: np.ndarray) -> float:
    denom = p.sum() + t.sum()
    return 1.0 if denom == 0 else float(2.0 * np.logical_and(p, t).sum() / denom)


class UNetSegmenter:
    """MONAI U-Net lesion segmenter (2D for US, 3D for MRI).

    Parameters
    ----------
    modality
        ``"us"`` (2D network) or ``"mri"`` (3D network).
    device
        ``"cuda"``, ``"cpu"`` or ``None`` (default: CUDA when available).
    **params
        Overrides of :data:`radsurv.segment.data.DEFAULTS` (spacing and patch in
        SimpleITK (x, y[, z]) order): ``spacing_mm``, ``patch``, ``channels``,
        ``strides``, ``num_res_units``, ``epochs``, ``iterations_per_epoch``,
        ``batch_size``, ``learning_rate``, ``weight_decay``, ``val_fraction``,
        ``val_every``, ``max_val_cases``, ``min_val_cases``, ``sw_batch_size``,
        ``overlap``, ``threshold``, ``component``, ``seed``, augmentation settings.

    Attributes
    ----------
    model_
        The trained ``monai.networks.nets.UNet`` (after ``fit`` or ``load``).
    history_
        One dict per epoch: ``epoch``, ``loss``, ``val_dice`` (or None), ``seconds``.
    best_epoch_
        Epoch whose weights were kept (best validation Dice; the last epoch without
        a validation split).
    fit_info_
        ``n_train``, ``n_val``, ``best_val_dice``, ``seconds`` (training loop, wall) and
        ``seconds_per_iteration`` (epoch wall time, validation included, per iteration).
    """

    def __init__(self, modality: str = "us", device: str | None = None, **params):
        defaults = default_params(modality)
        unknown = set(params) - set(defaults)
        if unknown:
            raise TypeError(f"unknown UNetSegmenter parameters: {sorted(unknown)}")
        self.modality = modality
        self.params = {**defaults, **params}
        for k in _TUPLE_KEYS:
            self.params[k] = tuple(self.params[k])
        if len(self.params["spacing_mm"]) != ndim_of(modality) or len(self.params["patch"]) != ndim_of(modality):
            raise ValueError(f"spacing_mm and patch need {ndim_of(modality)} values for {modality}")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model_ = None
        self.history_: list[dict] = []
        self.best_epoch_: int | None = None
        self.fit_info_: dict = {}

    # -- scikit-learn-style accessors -------------------------------------------------
    def get_params(self) -> dict:
        """Modality and parameters (everything that defines the trained model)."""
        return {"modality": self.modality, **self.params}

    def _build(self) -> torch.nn.Module:
        from monai.networks.nets import UNet

        p = self.params
        return UNet(
            spatial_dims=ndim_of(self.modality),
            in_channels=1,
            out_channels=2,  # background / lesion, softmax: DiceCE on one-hot labels
            channels=p["channels"],
            strides=p["strides"],
            num_res_units=int(p["num_res_units"]),
        ).to(self.device)

    # -- training ----------------------------------------------------------------------
    def fit(
        self,
        images: Sequence[ImageLike],
        masks: Sequence[ImageLike],
        val_images: Sequence[ImageLike] | None = None,
        val_masks: Sequence[ImageLike] | None = None,
        progress: bool = False,
    ) -> "UNetSegmenter":
        """Train on development images and masks; keep the best-validation-Dice weights.

        Parameters
        ----------
        images, masks
            Development images and their lesion masks (SimpleITK images or paths).
        val_images, val_masks
            Validation cases. If omitted, ``val_fraction`` of the development cases
            (seeded shuffle) are held out, provided at least ``min_val_cases`` remain
            for validation; otherwise there is no validation and the last epoch is kept.
        progress
            Show a tqdm bar over epochs.

        Returns
        -------
        UNetSegmenter
            ``self``, trained.
        """
        from monai.losses import DiceCELoss
        from monai.utils import set_determinism

        p = self.params
        seed = int(p["seed"])
        images, masks = list(images), list(masks)
        if len(images) != len(masks) or not images:
            raise ValueError(f"need as many masks as images (got {len(images)} images, {len(masks)} masks)")
        rng = np.random.default_rng(seed)
        if val_images is None:
            order = rng.permutation(len(images))
            n_val = int(round(p["val_fraction"] * len(images)))
            if n_val < p["min_val_cases"] or len(images) - n_val < 1:
                n_val = 0
            val_idx, tr_idx = order[:n_val], order[n_val:]
            val_images, val_masks = [images[i] for i in val_idx], [masks[i] for i in val_idx]
            images, masks = [images[i] for i in tr_idx], [masks[i] for i in tr_idx]
        else:
            val_images, val_masks = list(val_images), list(val_masks or [])
            if len(val_images) != len(val_masks):
                raise ValueError("need as many validation masks as validation images")
        val_images, val_masks = val_images[: p["max_val_cases"]], val_masks[: p["max_val_cases"]]

        set_determinism(seed=seed)
        torch.manual_seed(seed)
        train = [prepare(i, self.modality, p, m) for i, m in zip(images, masks)]
        val = [prepare(i, self.modality, p, m) for i, m in zip(val_images, val_masks)]
        transform = train_transform(self.modality, p)
        transform.set_random_state(seed=seed)

        model = self._build()
        loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
        opt = torch.optim.AdamW(model.parameters(), lr=float(p["learning_rate"]), weight_decay=float(p["weight_decay"]))
        n_iter = int(p["epochs"]) * int(p["iterations_per_epoch"])
        # Cosine decay: short CPU schedules converge better than with a constant rate.
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, n_iter))

        self.model_, self.history_, best_state, best_dice = model, [], None, -1.0
        t_start = time.perf_counter()
        epochs = range(1, int(p["epochs"]) + 1)
        if progress:
            from radsurv.progress import tqdm

            epochs = tqdm(epochs, desc=f"U-Net {self.modality}", unit="epoch")
        for epoch in epochs:
            t0 = time.perf_counter()
            model.train()
            losses = []
            for _ in range(int(p["iterations_per_epoch"])):
                picks = rng.integers(0, len(train), size=int(p["batch_size"]))
                samples = [transform({"image": train[i].image, "label": train[i].label})[0] for i in picks]
                x = torch.stack([_plain(s["image"]) for s in samples]).float().to(self.device)
                y = torch.stack([_plain(s["label"]) for s in samples]).float().to(self.device)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), (y > 0.5).float())
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
            val_dice = None
            last = epoch == int(p["epochs"])
            if val and (epoch % int(p["val_every"]) == 0 or last):
                val_dice = float(np.mean([_dice_np(self._prob(c) >= p["threshold"], c.label[0] > 0.5) for c in val]))
                if val_dice > best_dice:
                    best_dice, best_state, self.best_epoch_ = val_dice, copy.deepcopy(model.state_dict()), epoch
            self.history_.append(
                {"epoch": epoch, "loss": float(np.mean(losses)), "val_dice": val_dice, "seconds": time.perf_counter() - t0}
            )
            log.info("U-Net %s epoch %d: loss %.4f, val Dice %s", self.modality, epoch, np.mean(losses), val_dice)
        if best_state is not None:
            model.load_state_dict(best_state)
        else:
            self.best_epoch_ = int(p["epochs"])
        seconds = time.perf_counter() - t_start
        self.fit_info_ = {
            "n_train": len(train),
            "n_val": len(val),
            "best_val_dice": best_dice if best_state is not None else None,
            "seconds": seconds,
            "seconds_per_iteration": sum(h["seconds"] for h in self.history_) / max(1, n_iter),
        }
        model.eval()
        return self

    # -- inference ---------------------------------------------------------------------
    def _check_fitted(self):
        if self.model_ is None:
            raise NotFittedError("this UNetSegmenter is not trained: call fit() or load() first")

    @torch.inference_mode()
    def _prob(self, prepared) -> np.ndarray:
        """Lesion probability on the network grid (numpy order), by sliding windows."""
        from monai.inferers import sliding_window_inference

        self._check_fitted()
        self.model_.eval()
        x = torch.from_numpy(prepared.image[None]).float().to(self.device)
        logits = sliding_window_inference(
            x,
            roi_size=numpy_order(self.params["patch"]),
            sw_batch_size=int(self.params["sw_batch_size"]),
            predictor=self.model_,
            overlap=float(self.params["overlap"]),
            mode="gaussian",  # down-weights window borders, where context is missing
        )
        return torch.softmax(logits, dim=1)[0, 1].cpu().numpy()

    def predict_proba(self, image: ImageLike) -> sitk.Image:
        """Lesion probability map with the input image's geometry.

        Parameters
        ----------
        image
            US (2D, or 3D with one slice) or MRI (3D) image, or its path.

        Returns
        -------
        SimpleITK.Image
            float32 probabilities in [0, 1], same size, spacing, origin and direction as
            ``image``.
        """
        original = as_image(image)
        img = to_network_dim(original, self.modality)
        prepared = prepare(img, self.modality, self.params)
        prob = sitk.GetImageFromArray(self._prob(prepared).astype(np.float32))
        prob.CopyInformation(prepared.grid)
        # Probabilities (not labels) are resampled back: smoother boundaries at the
        # finer native spacing.
        back = sitk.Resample(prob, img, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        if original.GetDimension() != back.GetDimension():  # US stored as a one-slice volume
            back = sitk.JoinSeries(back)
            back.CopyInformation(original)
        return back

    def predict(self, image: ImageLike) -> sitk.Image:
        """Binary lesion mask: threshold, one connected lesion, holes filled.

        Parameters
        ----------
        image
            Image or path.

        Returns
        -------
        SimpleITK.Image
            uint8 0/1 mask with the input's geometry (possibly empty: check it with
            :func:`radsurv.segment.postprocess.check_segmentation`).
        """
        prob = self.predict_proba(image)
        arr = sitk.GetArrayFromImage(prob) >= float(self.params["threshold"])
        return postprocess(binary_image(arr, prob), how=self.params["component"])

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write weights, parameters and training history to one file (atomically).

        Parameters
        ----------
        path
            Destination (``.pt``).

        Returns
        -------
        Path
        """
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": _FORMAT,
            "meta": json.dumps(
                {
                    "modality": self.modality,
                    "params": self.params,
                    "history": self.history_,
                    "best_epoch": self.best_epoch_,
                    "fit_info": self.fit_info_,
                    "code_version": code_version(),
                }
            ),
            "state_dict": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)  # never a half-written file for a concurrent reader
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> "UNetSegmenter":
        """Read a segmenter written by :meth:`save`.

        Parameters
        ----------
        path
            The file.
        device
            Where to put the model (default: CUDA when available).

        Returns
        -------
        UNetSegmenter
        """
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if payload.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a radsurv U-Net file (format {payload.get('format')!r})")
        meta = json.loads(payload["meta"])
        seg = cls(meta["modality"], device=device, **meta["params"])
        seg.model_ = seg._build()
        seg.model_.load_state_dict(payload["state_dict"])
        seg.model_.eval()
        seg.history_, seg.best_epoch_, seg.fit_info_ = meta["history"], meta["best_epoch"], meta["fit_info"]
        seg.code_version_ = meta.get("code_version")
        return seg


def cache_key(
    modality: str,
    images: Sequence[ImageLike],
    masks: Sequence[ImageLike],
    params: dict,
    val_images: Sequence[ImageLike] | None = None,
    val_masks: Sequence[ImageLike] | None = None,
) -> str:
    """Content key of a training run: data file hashes, parameters and code version.

    Parameters
    ----------
    modality, images, masks, params, val_images, val_masks
        As for :class:`UNetSegmenter` and its ``fit``; ``params`` are merged with the
        defaults first, so spelling a default out does not change the key.

    Returns
    -------
    str
        64 hex digits.
    """
    full = UNetSegmenter(modality, device="cpu", **params).get_params()
    h = hashlib.sha256()
    h.update(json.dumps(full, sort_keys=True, default=list).encode())
    h.update(code_version().encode())
    for group in (images, masks, val_images or [], val_masks or []):
        h.update(b"|group|")
        for x in group:
            h.update(image_digest(x).encode())
    return h.hexdigest()


def train_or_load(
    cache_dir: str | Path,
    modality: str,
    images: Sequence[ImageLike],
    masks: Sequence[ImageLike],
    val_images: Sequence[ImageLike] | None = None,
    val_masks: Sequence[ImageLike] | None = None,
    progress: bool = False,
    device: str | None = None,
    **params,
) -> UNetSegmenter:
    """The cached segmenter for this training data, parameters and code, trained if absent.

    Parameters
    ----------
    cache_dir
        Folder of cached weights (``unet_<modality>_<key16>.pt`` plus a JSON note).
    modality, images, masks, val_images, val_masks, params
        As for :class:`UNetSegmenter` and ``fit``.
    progress
        tqdm bar while training.
    device
        As for :class:`UNetSegmenter`.

    Returns
    -------
    UNetSegmenter
        Trained; its ``cache_`` attribute says ``key``, ``path`` and ``loaded`` (True
        when read from the cache, False when trained now).
    """
    images, masks = list(images), list(masks)
    val_images = list(val_images) if val_images is not None else None
    val_masks = list(val_masks) if val_masks is not None else None
    key = cache_key(modality, images, masks, params, val_images, val_masks)
    cache_dir = Path(cache_dir)
    path = cache_dir / f"unet_{modality}_{key[:16]}.pt"
    if path.exists():
        seg = UNetSegmenter.load(path, device=device)
        log.info("U-Net %s loaded from cache %s", modality, path)
        seg.cache_ = {"key": key, "path": str(path), "loaded": True}
        return seg
    seg = UNetSegmenter(modality, device=device, **params).fit(images, masks, val_images, val_masks, progress=progress)
    seg.save(path)
    note = {"key": key, "modality": modality, "params": seg.params, "code_version": code_version(), "fit_info": seg.fit_info_,
            "n_images": len(images)}
    path.with_suffix(".json").write_text(json.dumps(note, indent=1, default=list))
    seg.cache_ = {"key": key, "path": str(path), "loaded": False}
    return seg
