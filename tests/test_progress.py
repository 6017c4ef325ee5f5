"""radsurv.progress: a redrawn bar on a terminal, a few plain lines in a log."""

from __future__ import annotations

import io

from radsurv import progress
from radsurv.progress import tqdm


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_not_carriage_returns(monkeypatch):
    log = io.StringIO()
    # Every update would be drawn without the interval: 10,000 updates, 2 lines.
    for _ in tqdm(range(10_000), desc="toy", file=log, mininterval=3600, miniters=1):
        pass
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert [line.split(" [")[0] for line in lines] == ["toy:   0% 0/10000", "toy: 100% 10000/10000"]


def test_a_bar_that_is_not_kept_still_ends_with_its_last_line_in_a_log():
    log = io.StringIO()
    for _ in tqdm(iter(range(7)), desc="gone", file=log, leave=False):
        pass
    assert log.getvalue().splitlines()[-1].startswith("gone: 7 [")


def test_a_terminal_gets_the_redrawn_bar():
    term = _Terminal()
    for _ in tqdm(range(3), desc="toy", file=term, mininterval=0, miniters=1):
        pass
    text = term.getvalue()
    assert text.count("\r") >= 4 and "toy: 100%|" in text  # drawn in place, with the bar itself


def test_the_log_interval_is_the_default(monkeypatch):
    log = io.StringIO()
    bar = tqdm(range(3), file=log)
    assert bar.mininterval == progress.LOG_INTERVAL_S == 30.0
    bar.close()


def test_papermill_bar_in_a_log_is_plain_lines():
    """papermill draws its own 'Executing' bar; bar_options gives it the log's form."""
    from tqdm.auto import tqdm as auto_tqdm

    from radsurv.progress import bar_options

    log = io.StringIO()
    options = bar_options(stream=log)
    bar = auto_tqdm(total=36, unit="cell", desc="Executing", **options)  # as papermill makes it
    for _ in range(36):
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 2
    assert lines[-1].startswith("Executing: 100% 36/36 [")
    term = _Terminal()
    assert bar_options(stream=term) == {"file": term}  # a terminal: tqdm's own bar


def test_a_slow_bar_prints_no_line_twice(monkeypatch):
    """The last update and the closing redraw print the same state: one line."""
    log = io.StringIO()
    bar = tqdm(total=2, desc="slow", file=log, mininterval=0)
    bar.update(2)  # drawn at once (mininterval 0) ...
    bar.close()    # ... and redrawn on closing
    lines = log.getvalue().splitlines()
    assert len(lines) == len(set(lines)) == 2 and lines[-1].startswith("slow: 100% 2/2 [")
    assert tqdm(range(1), file=io.StringIO()).maxinterval == 30.0  # no forced 10-s redraws in a log
