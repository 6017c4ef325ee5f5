"""The plain-text form of the models' result objects."""

from __future__ import annotations

import contextlib
import io

from ..results import ShowsItself


class Shown(ShowsItself):
    """:class:`~radsurv.results.ShowsItself` whose ``repr`` is what ``print_summary`` prints
    (the title and the summary), never the data it holds: a design's or a score table's rows
    are patients, and an executed notebook is published. Dataclasses that mix it in are
    declared with ``repr=False`` so that this ``__repr__`` is kept."""

    def __repr__(self) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.print_summary()
        return out.getvalue().rstrip("\n")
