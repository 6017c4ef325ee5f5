"""Result objects that show themselves, as lifelines' and scikit-survival's do.

A fitted estimator or a stage's result mixes in :class:`ShowsItself` and defines
:meth:`~ShowsItself.summary` (a DataFrame) and, where a picture helps,
:meth:`~ShowsItself.plot` (``ax=None`` draws on a new figure; returns the Axes). It then

* shows its summary as a table when it is the last expression of a notebook cell
  (``_repr_html_``), under a one-line title that says what it is; its plain ``repr``
  is that title alone (a dataclass mixing it in says ``@dataclass(repr=False)``);
* prints the same with :meth:`~ShowsItself.print_summary` (a console, a log);
* draws the figure the paper publishes: the stages' figure functions call the same
  ``plot`` methods, so the figure inline in a notebook is the published one.

Summaries are aggregates (a coefficient, a C-index, a count): no patient identifier
ever appears in one, since executed notebooks are published with the paper.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

__all__ = ["ShowsItself", "new_axes"]


class ShowsItself:
    """Mixin: ``summary()``, ``print_summary()``, ``_repr_html_`` and ``plot(ax=None)``.

    Subclasses define :meth:`summary` and may override :meth:`title` (one line: what the
    object is and its headline numbers) and :meth:`plot`.
    """

    #: Significant digits shown by ``print_summary`` and ``_repr_html_`` (``summary()``
    #: keeps full precision): a p-value of 2e-05 stays 2e-05, a C of 0.7312 stays 0.7312.
    digits: int = 4

    def summary(self) -> pd.DataFrame:  # pragma: no cover - defined by every subclass
        """The result as a table (full precision)."""
        raise NotImplementedError

    def title(self) -> str:
        """One line that says what the object is."""
        return type(self).__name__

    def __repr__(self) -> str:
        # The title, never the data: a result's rows may be patients, and an executed
        # notebook is published. A dataclass keeps this with @dataclass(repr=False).
        return self.title()

    def _fitted(self) -> bool:
        """Whether there is anything to show (an unfitted estimator shows its parameters)."""
        return True

    def _number(self, x: float) -> str:
        return f"{x:.{self.digits}g}"

    def print_summary(self) -> None:
        """Print the title and the summary table."""
        print(self.title())
        if self._fitted():
            with pd.option_context("display.max_columns", None, "display.width", 120):
                print(self.summary().to_string(float_format=self._number, na_rep="–"))

    def _repr_html_(self) -> str:
        head = f"<p><strong>{html.escape(self.title())}</strong></p>"
        if not self._fitted():
            return head
        return head + self.summary().to_html(border=0, float_format=self._number, na_rep="–")

    def plot(self, ax=None, **kwargs: Any):  # pragma: no cover - overridden where a figure exists
        """Draw the result on ``ax`` (a new figure when None) and return the Axes."""
        raise NotImplementedError(f"{type(self).__name__} has no figure; see summary()")


def new_axes(ax=None, figsize: tuple[float, float] = (5.0, 3.5)):
    """``ax`` itself, or the Axes of a new figure in the paper's style."""
    if ax is not None:
        return ax
    from .plots.style import apply_style, plt

    apply_style()
    _, ax = plt.subplots(figsize=figsize)
    return ax
