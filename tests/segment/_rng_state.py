"""Save and restore the process-wide random state that MONAI's ``set_determinism``
changes (``UNetSegmenter.fit`` calls it): Python's ``random``, NumPy's legacy global
generator, torch's default generator(s), the cuDNN flags and MONAI's recorded seed."""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np
import torch


def global_random_state() -> dict:
    """A snapshot of every global random state ``set_determinism`` touches."""
    import monai.utils.misc as monai_misc

    state = {
        "random": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cudnn": (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark),
        "monai_seed": monai_misc._seed,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_global_random_state(state: dict) -> None:
    import monai.utils.misc as monai_misc

    random.setstate(state["random"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = state["cudnn"]
    monai_misc._seed = state["monai_seed"]
    torch.set_num_threads(state["torch_threads"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def preserved_global_random_state():
    """Run a block and put the global random state back as it was."""
    state = global_random_state()
    try:
        yield
    finally:
        restore_global_random_state(state)


def same_state(a: dict, b: dict) -> bool:
    """Whether two snapshots are equal."""
    np_a, np_b = a["numpy"], b["numpy"]
    return (
        a["random"] == b["random"]
        and np_a[0] == np_b[0] and np.array_equal(np_a[1], np_b[1]) and tuple(np_a[2:]) == tuple(np_b[2:])
        and torch.equal(a["torch"], b["torch"])
        and a["cudnn"] == b["cudnn"]
        and a["monai_seed"] == b["monai_seed"]
        and a["torch_threads"] == b["torch_threads"]
        and ("cuda" in a) == ("cuda" in b)
        and all(torch.equal(x, y) for x, y in zip(a.get("cuda", []), b.get("cuda", [])))
    )
