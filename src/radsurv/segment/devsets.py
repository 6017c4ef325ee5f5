"""The segmenters' development sets ("devsets"), as results that show themselves: what
each U-Net learns from, and the part held out to measure it; and the U-Nets' training
(the loss and validation Dice per epoch, the epoch kept).

Names: a *devset* is a segmentation development set (images and masks of patients without
outcome, ``imaging.development`` in a profile); *development* alone means the development
of the radiomics signatures and Cox models on the training set (stages 03 to 05).

:class:`Devsets` is built by :func:`radsurv.segment.stage.describe_devsets`,
:class:`UNetTraining` from the trained (or cached, or supplied) networks. Neither shows a
patient identifier: the summaries are counts, the figures an image without its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..labels import MODALITY_LABELS
from ..results import ShowsItself, new_axes

__all__ = ["Devsets", "DevsetSplit", "UNetTraining", "weights_origin", "SOURCES"]

@dataclass(repr=False, eq=False)
class DevsetSplit:
    """One modality's development data, split.

    Attributes
    ----------
    modality : str
    source : str
        ``"devset"`` (a development set: the twin's or the user's), ``"training"`` (the
        training set's supplied masks, for a cohort without one) or ``"weights"`` (a
        user's trained U-Net: nothing is trained, and the whole development set, if any,
        is held out).
    train : DataFrame
        ``patient_id, image, mask, reader_mask``: what the U-Net learns from (its own
        validation split is drawn inside the fit).
    test : DataFrame
        The same columns: the held-out part, used only to measure the segmenters.
    labels : str or None
        The column of ``train`` the network learns from (``reader_mask``: the experts'
        delineations; ``mask``), None when nothing is trained.
    """

    modality: str
    source: str
    train: pd.DataFrame
    test: pd.DataFrame
    labels: str | None

    def __repr__(self) -> str:
        return (f"{MODALITY_LABELS[self.modality]} development split: {len(self.train)} to train, "
                f"{len(self.test)} held out")

    def example(self) -> tuple[pd.Series, str] | None:
        """The first training case (else the first held-out case) and which part it is
        from, or None when there is no case."""
        if len(self.train):
            return self.train.iloc[0], "training"
        if len(self.test):
            return self.test.iloc[0], "held-out"
        return None


#: What a modality's segmenter learns from (``source`` of :class:`DevsetSplit`), in words.
SOURCES = {"devset": "development set", "training": "training set's masks",
           "weights": "supplied weights (nothing trained)"}


@dataclass(repr=False, eq=False)
class Devsets(ShowsItself):
    """The segmentation-development data of every modality.

    Attributes
    ----------
    splits : dict
        Modality -> :class:`DevsetSplit` (empty when the cohort's own masks are
        analysed and nothing is trained).
    test_fraction : float
        ``segmentation.dev_test_fraction``: the share held out.
    """

    splits: dict[str, DevsetSplit]
    test_fraction: float
    note: str = ""

    @property
    def modalities(self) -> list[str]:
        """The modalities with a segmenter (in the cohort's order)."""
        return list(self.splits)

    def __getitem__(self, modality: str) -> DevsetSplit:
        return self.splits[modality]

    def _fitted(self) -> bool:
        return bool(self.splits)

    def title(self) -> str:
        if not self.splits:
            return "No segmentation-development set: " + (self.note or "no segmenter is trained")
        parts = [f"{MODALITY_LABELS[m]} {len(s.train) + len(s.test)} patients ({len(s.train)} to train, "
                 f"{len(s.test)} held out)" for m, s in self.splits.items()]
        return "Segmentation-development sets: " + "; ".join(parts)

    def summary(self) -> pd.DataFrame:
        """Per modality: where the data come from, the patients, those the network learns
        from and those held out, and which masks it learns."""
        rows = []
        for m, s in self.splits.items():
            labels = {"reader_mask": "the reader's delineations", "mask": "the development masks",
                      None: "–"}[s.labels]
            rows.append({"modality": MODALITY_LABELS[m], "source": SOURCES[s.source],
                         "patients": len(s.train) + len(s.test), "to train": len(s.train), "held out": len(s.test),
                         "learns from": labels})
        return pd.DataFrame(rows, columns=["modality", "source", "patients", "to train", "held out", "learns from"])

    def plot(self, ax=None, modality: str | None = None, margin_mm: float | None = None):
        """One development image with the mask the network learns from (its first
        training case; without one, its first held-out case with its reference mask).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (None: a new figure).
        modality : str, optional
            Which modality (default: the first).
        margin_mm : float, optional
            Crop to the mask with this margin (default: the whole image).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..imaging.io import as_image
        from ..plots.segmentation import contour_handles, overlay_panel

        ax = new_axes(ax, (4.2, 4.2))
        modality = modality or (self.modalities[0] if self.modalities else None)
        picked = self.splits[modality].example() if modality else None
        if picked is None:
            ax.axis("off")
            ax.text(0.5, 0.5, "No development image", ha="center", va="center", transform=ax.transAxes)
            return ax
        case, part = picked
        split = self.splits[modality]
        column = split.labels if part == "training" and split.labels else "mask"
        # The experts' delineation is drawn as the reader's; a development set's own masks
        # are the truth of the twin, a user's experts' masks otherwise.
        has_reader = isinstance(case.get("reader_mask"), str) and case.get("reader_mask") != ""
        kind = "reader" if column == "reader_mask" or not has_reader else "true"
        image = as_image(case["image"])
        size = " × ".join(str(n) for n in image.GetSize() if n > 1)
        spacing = " × ".join(f"{s:.2g}" for s, n in zip(image.GetSpacing(), image.GetSize()) if n > 1)
        used = overlay_panel(ax, {"image": image, kind: case[column]}, margin_mm,
                             title=f"{MODALITY_LABELS[modality]}, a {part} image\n{size} voxels of {spacing} mm")
        ax.legend(handles=contour_handles(used), loc="upper right", fontsize="small")
        return ax


def weights_origin(model) -> str:
    """Where a U-Net's weights came from: ``"supplied"`` (the user's file),
    ``"cached"`` (``build/<profile>/cache/segment/``) or ``"trained"`` (now)."""
    cache = getattr(model, "cache_", {}) or {}
    return "supplied" if cache.get("supplied") else ("cached" if cache.get("loaded") else "trained")


_HISTORY_COLUMNS = ["epoch", "loss", "val_dice"]


@dataclass(repr=False, eq=False)
class UNetTraining(ShowsItself):
    """The U-Nets' training: per modality the loss and validation Dice per epoch and the
    epoch whose weights were kept (the best validation Dice).

    The history is stored with the weights (:meth:`radsurv.segment.unet.UNetSegmenter.save`),
    so a network read from the cache shows the curve it was trained with; a file without
    one (a user's weights, or an old cache entry) says "history not recorded".

    Attributes
    ----------
    models : dict
        Modality -> trained :class:`~radsurv.segment.unet.UNetSegmenter` (``history_``,
        ``best_epoch_``, ``fit_info_``, ``cache_``).
    """

    models: Mapping[str, Any] = field(default_factory=dict)

    def _fitted(self) -> bool:
        return bool(self.models)

    def history(self, modality: str) -> pd.DataFrame:
        """Epoch, mean training loss and validation Dice (NaN where not validated); no
        rows when the history was not recorded."""
        hist = getattr(self.models[modality], "history_", None) or []
        rows = [{"epoch": h.get("epoch"), "loss": h.get("loss"), "val_dice": h.get("val_dice")}
                for h in hist if isinstance(h, Mapping)]
        return pd.DataFrame(rows, columns=_HISTORY_COLUMNS).astype(float)

    def recorded(self, modality: str) -> bool:
        """Whether the training history of ``modality``'s network is known."""
        h = self.history(modality)
        return bool(len(h)) and h["loss"].notna().any()

    def title(self) -> str:
        if not self.models:
            return "No U-Net: the cohort's own masks are analysed"
        parts = []
        for m in self.models:
            origin = weights_origin(self.models[m])
            origin = {"supplied": "supplied weights", "cached": "from the cache", "trained": "trained now"}[origin]
            if not self.recorded(m):
                parts.append(f"{MODALITY_LABELS[m]}: history not recorded ({origin})")
                continue
            best, h = self._best(m), self.history(m)
            dice = f"best validation Dice {best[1]:.3f} at epoch {best[0]}" if best else "no validation split"
            parts.append(f"{MODALITY_LABELS[m]}: {dice} of {len(h)} ({origin})")
        return "U-Net training: " + "; ".join(parts)

    def _best(self, modality: str) -> tuple[int, float] | None:
        model = self.models[modality]
        h = self.history(modality)
        epoch = getattr(model, "best_epoch_", None)
        if epoch is None or not h["val_dice"].notna().any():
            return None
        at = h.loc[h["epoch"] == epoch, "val_dice"]
        return (int(epoch), float(at.iloc[0])) if len(at) and at.notna().all() else None

    def summary(self) -> pd.DataFrame:
        """Per modality: the network, where its weights came from, the images it learned
        from and validated on, the epochs, the epoch kept and its validation Dice, and the
        training time (from the fit that made the weights)."""
        rows = []
        for m, model in self.models.items():
            info = getattr(model, "fit_info_", {}) or {}
            best = self._best(m)
            rows.append({"modality": MODALITY_LABELS[m], "network": "2D U-Net" if m == "us" else "3D U-Net",
                         "weights": weights_origin(model),
                         "history": "recorded" if self.recorded(m) else "not recorded",
                         "training images": info.get("n_train", np.nan), "validation images": info.get("n_val", np.nan),
                         "epochs": len(self.history(m)) if self.recorded(m) else np.nan,
                         "best epoch": best[0] if best else np.nan, "best validation Dice": best[1] if best else np.nan,
                         "training seconds": info.get("seconds", np.nan)})
        return pd.DataFrame(rows)

    def plot(self, ax=None, modality: str | None = None):
        """The training curve: mean Dice + cross-entropy loss per epoch (left axis) and the
        validation Dice where it was measured (right axis), the kept epoch dashed.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            The axes of the loss (None: a new figure); the validation Dice goes on its twin.
        modality : str, optional
            Whose network: ``"us"`` or ``"mri"`` (None: the first trained).

        Returns
        -------
        matplotlib.axes.Axes
            The loss axes (the validation Dice is on its twin).
        """
        ax = new_axes(ax, (5.0, 3.4))
        modality = modality or next(iter(self.models), None)
        label = MODALITY_LABELS.get(modality, "") if modality else ""
        if modality is None or not self.recorded(modality):
            ax.text(0.5, 0.5, f"{label} U-Net: history not recorded".strip(), ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            return ax
        h = self.history(modality)
        ax.plot(h["epoch"], h["loss"], color="#0072B2", marker=".", label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("Dice + cross-entropy loss", color="#0072B2")
        val = h[h["val_dice"].notna()]
        twin = ax.twinx()
        twin.plot(val["epoch"], val["val_dice"], color="#D55E00", marker="o", label="validation Dice")
        twin.set_ylabel("validation Dice", color="#D55E00")
        twin.set_ylim(0, 1)
        best = self._best(modality)
        if best:
            ax.axvline(best[0], color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{label} U-Net" + (f": epoch {best[0]} kept" if best else ""))
        return ax
