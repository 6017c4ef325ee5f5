"""Progress bars that reach the console of ``radsurv run`` from inside a stage.

A stage's notebook runs in a Jupyter kernel started by papermill: ``sys.stderr`` there is
the kernel's stream to the notebook, so a tqdm bar written to it is seen only in the
executed notebook, and the console shows ``Executing: 60%`` for the whole of a
twenty-minute cell. Inside a kernel the bars go to the kernel process's own standard
error (``sys.__stderr__``): the console of the run shows it, and ipykernel copies it
into the notebook's output as well. Outside a kernel nothing changes.

On a terminal the bar redraws in place. Anywhere else (a log file, CI, a cluster job's
output) a redrawn bar would write hundreds of carriage-return updates into one line, so
the bar prints a plain line at most every :data:`LOG_INTERVAL_S` seconds, and a last
line when it ends.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, TextIO

__all__ = ["LOG_INTERVAL_S", "bar_options", "progress_stream", "tqdm"]

#: Seconds between two progress lines when the stream is not a terminal.
LOG_INTERVAL_S = 30.0


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


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


_LOG_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"
_LOG_FORMAT_UNSIZED = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}]"


class _PlainLines:
    """A stream for tqdm that turns each redraw (``"\\r" + bar``) into one line and drops
    the blank redraws that clear a bar."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        state = line.split(" [")[0]  # what was done, without the times and rate
        if line and state != self.last:  # closing redraws the last state: once is enough
            self.stream.write(line + "\n")
            self.last = state
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def bar_options(sized: bool = True, stream: TextIO | None = None, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments of a ``tqdm`` bar on ``stream`` (default
    :func:`progress_stream`): the stream itself on a terminal; elsewhere plain lines at most
    every :data:`LOG_INTERVAL_S` seconds and at the end. ``sized``: the total is known.
    Also for bars that other libraries draw (papermill's ``progress_bar=`` takes them)."""
    stream = stream or progress_stream()
    if _is_terminal(stream):
        return {**kwargs, "file": stream}
    # maxinterval too: tqdm's monitor thread otherwise redraws a slow bar every 10 s.
    return {"mininterval": LOG_INTERVAL_S, "maxinterval": LOG_INTERVAL_S, **kwargs, "file": _PlainLines(stream),
            "leave": True,
            "bar_format": _LOG_FORMAT if sized else _LOG_FORMAT_UNSIZED}


def tqdm(iterable: Iterable | None = None, **kwargs: Any):
    """``tqdm.tqdm`` writing to :func:`progress_stream` (unless ``file`` is given): a bar
    on a terminal, plain lines every :data:`LOG_INTERVAL_S` seconds and at the end elsewhere."""
    from tqdm import tqdm as _tqdm

    sized = kwargs.get("total") is not None or hasattr(iterable, "__len__")
    return _tqdm(iterable, **bar_options(sized, kwargs.pop("file", None), **kwargs))
