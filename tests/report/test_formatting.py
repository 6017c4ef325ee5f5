"""The printed forms of p-values and confidence intervals shared by the stages."""

from __future__ import annotations

import numpy as np
import pytest

from radsurv.report.formatting import MISSING, format_ci, format_p


@pytest.mark.parametrize("p, shown", [
    (0.0, "<0.001"), (0.000999, "<0.001"), (0.001, "0.001"), (0.0014, "0.001"), (0.0456, "0.046"),
    (0.05, "0.050"), (0.9996, "1.000"), (1.0, "1.000"), (np.float64(0.2), "0.200"),
])
def test_p_values_have_three_decimals_and_a_floor(p, shown):
    assert format_p(p) == shown
    assert format_p(p, missing=None) == shown


@pytest.mark.parametrize("p", [None, float("nan"), np.nan, float("inf"), -float("inf")])
def test_a_missing_p_is_a_dash(p):
    assert format_p(p) == MISSING == "–"
    assert format_p(p, missing="NA") == "NA"


def test_without_a_missing_mark_a_p_is_formatted_as_python_does():
    """The cohort stage's log-rank p has always been printed this way."""
    assert format_p(float("nan"), missing=None) == "nan"
    assert format_p(float("inf"), missing=None) == "inf"
    assert format_p(-float("inf"), missing=None) == "<0.001"
    with pytest.raises(TypeError):
        format_p(None, missing=None)


def test_estimates_with_their_interval():
    assert format_ci(1.2345, 0.98, 1.5449) == "1.23 (0.98-1.54)"
    assert format_ci(0.7341, 0.69, 0.7799, digits=3) == "0.734 (0.690-0.780)"
    assert format_ci(2.0, 1.0, np.inf) == "2.00 (1.00-inf)"   # only the estimate decides what is missing
    assert format_ci(np.nan, 0.5, 0.6) == format_ci(np.inf, 0.5, 0.6) == "–"
