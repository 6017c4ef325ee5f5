"""The errors and warnings radsurv raises, in one place.

Two families matter to a user:

* :class:`InputError` (a ``ValueError``): something the user supplied is wrong (a
  profile key, a manifest row, an image file). The message names the file, the key
  or the patient and what is wrong; the command line exits with status 2 and nothing
  in ``build/`` is touched.
* :class:`StageError` (a ``RuntimeError``): a stage of the pipeline did not finish
  (a notebook cell raised, or the stage did not write what it declares). The command
  line exits with status 1; earlier stages' outputs stay intact and the next run
  resumes.

Everything else (:class:`ManuscriptError`, :class:`RenderError`,
:class:`PublishError`) concerns the manuscript, and :class:`ConvergenceWarning`
flags a fit that stopped before its tolerance was met.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "ConvergenceWarning",
    "ImageReadError",
    "InputError",
    "ManifestError",
    "ManuscriptError",
    "NotFittedError",
    "PreconditionError",
    "ProfileError",
    "PublishError",
    "RadsurvError",
    "RenderError",
    "StageError",
    "StageFailure",
    "StageOutputsError",
]


class RadsurvError(Exception):
    """Base class of every error radsurv raises on purpose."""


# --------------------------------------------------------------------------- input


class InputError(RadsurvError, ValueError):
    """Something the user supplied cannot be used (command line exit status 2)."""


class ProfileError(InputError):
    """A profile file is missing, malformed, or has an unknown or invalid key."""


class ManifestError(InputError):
    """The manifest cannot be used; ``problems`` lists everything found.

    Parameters
    ----------
    source : str
        The manifest (its path, or a short name of the check that failed).
    problems : sequence
        The problems found; each one's ``str`` names the row, patient and column.
    """

    #: At most this many problems are printed; the rest are counted.
    MAX_SHOWN = 50

    def __init__(self, source: str, problems: Sequence):
        self.source = source
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{source}: {n} problem{'s' if n != 1 else ''} in the manifest"]
        lines += [f"  - {p}" for p in self.problems[: self.MAX_SHOWN]]
        if n > self.MAX_SHOWN:
            lines.append(f"  ... and {n - self.MAX_SHOWN} more")
        super().__init__("\n".join(lines))


class PreconditionError(ProfileError):
    """The cohort cannot be analysed as the profile configures it (too few training events
    for the cross-validation folds, for instance): ``key`` is the profile key to change and
    ``suggested`` a value that would work (None when no value does). Decided by
    :mod:`radsurv.preconditions`, raised by the stage and by ``radsurv validate`` alike."""

    def __init__(self, message: str, key: str | None = None, suggested=None):
        self.key = key
        self.suggested = suggested
        super().__init__(message)


class ImageReadError(InputError):
    """An image or mask file cannot be read (missing, truncated, unknown format)."""


# --------------------------------------------------------------------------- stages


class StageError(RadsurvError, RuntimeError):
    """A pipeline stage did not finish (command line exit status 1)."""


@dataclass
class StageFailure(StageError):
    """A stage notebook raised: which notebook, which cell, what error."""

    stage: str
    notebook: str
    cell: int | None
    error: str
    executed: Path
    #: The failing cell's first line of code (comments skipped), to find it at a glance.
    line: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"code cell {self.cell}" if self.cell is not None else "before the first cell"
        if self.cell is not None and self.line:
            where += f" (`{self.line}`)"
        return (f"stage {self.stage} failed in {self.notebook}, {where}: {self.error}\n"
                f"  executed notebook (with the traceback): {self.executed}\n"
                f"  earlier stages' outputs are intact; fix the problem and run again to resume")


class StageOutputsError(StageError):
    """A stage finished but did not write what it declares, or wrote undeclared artefacts.

    Parameters
    ----------
    stage : str
        The stage's name.
    missing : iterable of str
        Declared, required outputs that are absent.
    undeclared : iterable of str
        Publishable files (figures, tables, texts) the stage wrote without declaring.
    folder : Path
        Where the stage's partial output was kept.
    """

    def __init__(self, stage: str, missing: Iterable[str] = (), undeclared: Iterable[str] = (),
                 folder: Path | None = None):
        self.stage = stage
        self.missing = sorted(missing)
        self.undeclared = sorted(undeclared)
        self.folder = folder
        parts = []
        if self.missing:
            parts.append(f"did not write its declared output(s) {', '.join(self.missing)}")
        if self.undeclared:
            parts.append(f"wrote {', '.join(self.undeclared)} without declaring it (add it to the stage's "
                         "outputs in radsurv/stages/registry.py)")
        where = f"; its output is kept in {folder}" if folder else ""
        super().__init__(f"stage {stage} " + " and ".join(parts) + where)


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped before reaching its tolerance; the result may be inexact."""


class NotFittedError(RadsurvError, ValueError, AttributeError):
    """An estimator was used before ``fit`` (as scikit-learn's ``NotFittedError``)."""


# --------------------------------------------------------------------------- manuscript


class ManuscriptError(RadsurvError, ValueError):
    """The manuscript does not resolve; ``problems`` lists every unresolved item."""

    def __init__(self, problems: Sequence):
        self.problems = [str(p) for p in problems]
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the manuscript does not resolve ({len(self.problems)} problem(s)):\n{lines}")


class RenderError(RadsurvError, RuntimeError):
    """The manuscript could not be rendered (no Quarto where it was asked for, or Quarto failed)."""


class PublishError(RadsurvError, RuntimeError):
    """Two stages would publish an artefact under the same name, or a declared artefact is invalid."""
