"""Shared fixtures: the project root and profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def paper_profile():
    from radsurv.config import load_profile

    return load_profile("paper", ROOT)


@pytest.fixture(scope="session")
def quick_profile():
    from radsurv.config import load_profile

    return load_profile("quick", ROOT)


@pytest.fixture(autouse=True)
def _close_figures():
    """A result's plot() opens a figure and returns its Axes (as in a notebook); close
    whatever a test left open, so that a test counting open figures sees only its own."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
