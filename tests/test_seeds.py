"""The named random streams keep the numbers every build has drawn from: renumbering one
would change every draw of its stream (and every result downstream of it)."""

from __future__ import annotations

import radsurv.seeds as seeds


def test_the_stream_numbers_are_the_pipelines():
    assert {name: getattr(seeds, name) for name in seeds.__all__} == {
        "STREAM_TWIN_OUTCOME": 1, "STREAM_TWIN_IMAGING": 2, "STREAM_REPRODUCIBILITY": 2, "STREAM_FOLDS": 3,
        "STREAM_XTILE": 5, "STREAM_MODEL_COMPARISON": 6, "STREAM_OPTIMISM": 7, "STREAM_PERMUTATION": 11,
        "STREAM_CUTPOINT_CV": 13, "STREAM_IMPUTATION": 17, "STREAM_TWIN_MISSING": 19, "STREAM_TWIN_TRAIT": 23,
        "STREAM_TWIN_KINETIC": 29}


def test_no_other_stream_shares_a_number():
    """Streams 2 of the twin's imaging and the reproducibility subset are the only shared
    number (historical; they draw in different stages for unrelated things)."""
    numbers = [getattr(seeds, name) for name in seeds.__all__]
    shared = {n for n in numbers if numbers.count(n) > 1}
    assert shared == {2}
