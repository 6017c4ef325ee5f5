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
