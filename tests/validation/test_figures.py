"""The validation figures: label thinning (closed cases) and that each figure is drawn
from the stage's tables, a not-estimable panel included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radsurv.plots.validation import _thin, calibration_figure, decision_figure


@pytest.mark.parametrize("points, gap, shown", [
    ([0, 1, 2, 10, 20], 3, [True, False, False, True, True]),
    ([0, 5, 8, 9], 3, [True, True, False, True]),       # 8 gives way to the end 9
    ([3.0], 1, [True]),
    ([0, 0.5, 1.0], 5, [True, False, True]),            # ends always shown
])
def test_thin_keeps_ends_and_gaps(points, gap, shown):
    assert _thin(np.asarray(points, float), gap).tolist() == shown


def test_calibration_figure_says_why_a_panel_is_empty(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    grouped = pd.DataFrame({"model": "m", "set": "external", "horizon": 60.0, "mean_predicted": [0.1, 0.3],
                            "observed": [0.12, 0.25], "observed_lower": [0.05, 0.15], "observed_upper": [0.2, 0.35],
                            "max_predicted": [0.2, 0.5]})
    summary = pd.DataFrame({"model": "m", "set": "external", "horizon": [36.0, 60.0], "mean_predicted": [np.nan, 0.2],
                            "note": ["2 events by the horizon (at least 5 needed)", ""]})
    path = calibration_figure(grouped, pd.DataFrame(), pd.DataFrame(), "m", tmp_path / "fig-calibration.png",
                              {"train": "Training", "external": "External test"}, "Model", summary=summary)
    assert path.stat().st_size > 5000
    import matplotlib.pyplot as plt

    assert not plt.get_fignums()  # the figure was closed
    empty = decision_figure(pd.DataFrame(columns=["set", "horizon", "strategy", "threshold", "net_benefit"]), ["m"],
                            tmp_path / "fig-decision.png", {"m": "Model"}, {"external": "External"})
    assert empty.is_file()


def test_calibration_figure_with_no_estimable_panel_draws_the_reasons(tmp_path, monkeypatch):
    """Every panel not estimable (the issue's 40-patient cohort: no horizon reached 5 events
    in any set): no legend entry at all, which fig.legend(ncol=0) refused; each panel says why."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure

    drawn = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **k: drawn.extend(t.get_text() for ax in fig.axes for t in ax.texts))
    notes = ["follow-up ends at 30.0 months, before the horizon", "3 events by the horizon (at least 5 needed)"]
    summary = pd.DataFrame({"model": "m", "set": ["external", "internal"], "horizon": 36.0, "mean_predicted": np.nan,
                            "note": notes})
    calibration_figure(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), "m", tmp_path / "fig-calibration.png",
                       {"train": "Training", "internal": "Internal test", "external": "External test"}, "Model",
                       summary=summary)
    assert sorted(drawn) == sorted("not estimable:\n" + n for n in notes)
