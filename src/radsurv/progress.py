"""Progress bars that reach the console of ``radsurv run`` from inside a stage.

A stage's notebook runs in a Jupyter kernel started by papermill: ``sys.stderr`` there is
the kernel's stream to the notebook, so a tqdm bar written to it is seen only in the
executed notebook, and the console shows ``Executing: 60%`` for the whole of a
twenty-minute cell. Inside a kernel the bars go to the kernel process's own standard
error (``sys.__stderr__``): the console of the run shows it, and ipykernel copies it
into the notebook's output as well. Outside a kernel nothing changes.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, TextIO

__all__ = ["progress_stream", "tqdm"]


def progress_stream() -> TextIO:
    """``sys.__stderr__`` inside a Jupyter kernel (when it exists), else ``sys.stderr``."""
    if _in_kernel() and sys.__stderr__ is not None and sys.stderr is not sys.__stderr__:
        return sys.__stderr__
    return sys.stderr


def _in_kernel() -> bool:
    """Whether this process is a running Jupyter kernel (not merely one that imported
    ipykernel, as a test session that ran papermill has: its captured stderr must stay)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def tqdm(iterable: Iterable | None = None, **kwargs: Any):
    """``tqdm.tqdm`` writing to :func:`progress_stream` (unless ``file`` is given)."""
    from tqdm import tqdm as _tqdm

    kwargs.setdefault("file", progress_stream())
    return _tqdm(iterable, **kwargs)
