"""The time-dependent ROC curve: its area is td_auc's AUC (R riskRegression), for a
continuous score and for one with many ties, and it runs from (0, 0) to (1, 1)."""

from __future__ import annotations

import numpy as np
import pytest
from ._ref import load_reference

from radsurv.stats import td_auc, td_roc_curve


@pytest.mark.parametrize("marker", ["lp", "pnodes"])
@pytest.mark.parametrize("t", [365.0, 1095.0, 1825.0])
def test_area_under_the_curve_is_the_ipcw_auc(marker, t):
    data, _ = load_reference("td_auc")
    roc = td_roc_curve(data["time"], data["event"], data[marker], t)
    assert (roc.fpr.iloc[0], roc.tpr.iloc[0]) == (0.0, 0.0) and (roc.fpr.iloc[-1], roc.tpr.iloc[-1]) == (1.0, 1.0)
    assert (np.diff(roc.fpr) >= 0).all() and (np.diff(roc.tpr) >= 0).all()
    area = np.trapezoid(roc.tpr, roc.fpr)
    auc = td_auc(data["time"], data["event"], data[marker], [t]).auc.iloc[0]
    assert area == pytest.approx(auc, rel=1e-12)


def test_no_cases_or_controls_is_named():
    t = np.array([5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match="no cases or no controls"):
        td_roc_curve(t, [0, 0, 1], [1.0, 2.0, 3.0], 1.0)
