"""Patient-flow (CONSORT-style) diagram."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .style import apply_style, message_figure, plt, save_figure

__all__ = ["flow_figure"]


def _box(ax, x, y, text, w=0.28, h=0.11, fc="#f4f6f8"):
    ax.add_patch(plt.Rectangle((x - w / 2, y - h / 2), w, h, fc=fc, ec="#333333", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", lw=0.8, color="#333333"))


def flow_figure(path: str | Path, *, n_internal_centres: int, n_external_centres: int, internal_label: str,
                external_label: str, n_train: int, n_internal: int, n_external: int,
                exclusions: Sequence[tuple[str, int]] = (), source_label: str = "Manifest",
                notes: Sequence[str] = ()) -> Path:
    """Draw the patient flow: enrolled -> exclusions -> centres -> training / internal / external.

    Parameters
    ----------
    exclusions : sequence of (reason, count)
        Every check that removed patients; listed in a side box (``none`` if empty).
    notes : sequence of str
        Events that changed how patients were analysed without removing them (e.g. an
        automatic mask replaced by the reader's); printed under the diagram.
    Returns
    -------
    Path of the written figure.
    """
    apply_style()
    n_enrolled = n_internal_centres + n_external_centres + sum(c for _, c in exclusions)
    if n_enrolled == 0:
        return message_figure(path, f"No patient in the {source_label.lower()}: no patient flow to draw")
    fig, ax = plt.subplots(figsize=(6.6, 4.2))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    _box(ax, 0.5, 0.9, f"{source_label}\nn = {n_enrolled}", w=0.34)
    excl_text = "Excluded\n" + ("\n".join(f"{r}: n = {c}" for r, c in exclusions) if exclusions else "none")
    # Exclusions branch off the arrow between "enrolled" and "analysed".
    _box(ax, 0.84, 0.775, excl_text, w=0.3, h=0.06 + 0.035 * max(1, len(exclusions)), fc="#fdf2e9")
    _arrow(ax, 0.5, 0.845, 0.5, 0.765)
    _arrow(ax, 0.5, 0.775, 0.69, 0.775)
    _box(ax, 0.5, 0.71, f"Analysed\nn = {n_internal_centres + n_external_centres}", w=0.24)
    _arrow(ax, 0.45, 0.655, 0.25, 0.565)
    _arrow(ax, 0.55, 0.655, 0.75, 0.565)
    _box(ax, 0.25, 0.51, f"{internal_label}\nn = {n_internal_centres}", w=0.34)
    _box(ax, 0.75, 0.51, f"{external_label}\nn = {n_external_centres}", w=0.34)
    _arrow(ax, 0.2, 0.455, 0.13, 0.335)
    _arrow(ax, 0.3, 0.455, 0.37, 0.335)
    _arrow(ax, 0.75, 0.455, 0.75, 0.335)
    _box(ax, 0.13, 0.28, f"Training set\nn = {n_train}", w=0.22)
    _box(ax, 0.39, 0.28, f"Internal test set\nn = {n_internal}", w=0.24)
    _box(ax, 0.75, 0.28, f"External test set\nn = {n_external}", w=0.26)
    ax.text(0.26, 0.15, "random split, stratified by DFS event", ha="center", fontsize=7, style="italic")
    for i, note in enumerate(notes):
        ax.text(0.5, 0.07 - 0.045 * i, note, ha="center", fontsize=7.5)
    return save_figure(fig, path)
