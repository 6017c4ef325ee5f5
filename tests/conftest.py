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
