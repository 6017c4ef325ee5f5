"""Segmentation tests: one torch thread (the machine is shared), and no global random
state left behind (``UNetSegmenter.fit`` calls MONAI's ``set_determinism``, which
reseeds ``random``, NumPy's and torch's global generators and sets cuDNN flags)."""

from __future__ import annotations

import pytest
import torch

from ._rng_state import preserved_global_random_state


@pytest.fixture(autouse=True, scope="module")
def _module_global_state():
    # module-scoped fixtures (a trained U-Net) run before any test-level fixture:
    # restore after the module too
    with preserved_global_random_state():
        yield


@pytest.fixture(autouse=True)
def _one_thread_and_global_state():
    with preserved_global_random_state():
        torch.set_num_threads(1)
        yield
