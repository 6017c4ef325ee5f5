"""Kaplan-Meier figure and landmark table (radsurv.plots.km) against R survival 3.5-3
(item `km_logrank`, GBSG2) and against the former lifelines implementation."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from radsurv.plots import km

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "km_logrank"
RTOL = 1e-9  # README: km_logrank, closed form


@pytest.fixture(scope="module")
def gbsg2():
    data = pd.read_csv(REFERENCE / "data.csv")
    results = json.loads((REFERENCE / "results.json").read_text(encoding="utf-8"))
    return data, results


# ------------------------------------------------------------------ km_table vs R
@pytest.mark.parametrize("split", ["group2", "group3", "all"])
def test_km_table_against_r_loglog(gbsg2, split):
    data, r = gbsg2
    times = r["times"]
    group = data[split].to_numpy() if split != "all" else np.repeat("all", len(data))
    if split == "all":
        refs = {"all": r["km"]["all"]}
    else:
        refs = r["km"][split]
    table = km.km_table(data["time"].to_numpy(), data["event"].to_numpy(), group, times, list(refs))
    assert list(table["group"]) == [g for g in refs for _ in times]
    assert table["time"].tolist() == times * len(refs)
    checked = 0
    for g, ref in refs.items():
        at = ref["conf_type_log-log"]["at_times"]
        rows = table[table["group"] == g]
        np.testing.assert_allclose(rows["survival"], at["surv"], rtol=RTOL, atol=0, err_msg=f"{g} survival")
        for col in ("lower", "upper"):
            want = np.array([np.nan if v is None else v for v in at[col]], dtype=float)
            got = rows[col].to_numpy()
            # R: NA where S = 1 (log(-log 1) undefined); here [1, 1] as lifelines reported it
            undefined = np.isnan(want)
            assert (np.asarray(at["surv"])[undefined] == 1).all() and (got[undefined] == 1).all()
            np.testing.assert_allclose(got[~undefined], want[~undefined], rtol=RTOL, atol=0, err_msg=f"{g} {col}")
            checked += int((~undefined).sum())
    assert checked >= 2 * len(times) * len(refs) - 2  # only group I at 365 days has S = 1


def test_km_table_is_the_log_log_interval_not_rs_default(gbsg2):
    # R's default conf.type = "log" gives other limits: the table must not silently use it
    data, r = gbsg2
    table = km.km_table(data["time"], data["event"], np.repeat("all", len(data)), r["times"], ["all"])
    log_ci = r["km"]["all"]["conf_type_log"]["at_times"]["lower"]
    assert np.all(np.abs(table["lower"].to_numpy() - log_ci) > 1e-4)


# ------------------------------------------------------------------ km_table vs lifelines
def _lifelines_km_table(time, event, group, times, order) -> pd.DataFrame:
    """The former implementation of km_table (lifelines), verbatim."""
    from lifelines import KaplanMeierFitter

    rows = []
    time, event, group = np.asarray(time, float), np.asarray(event, int), np.asarray(group)
    for g in order:
        sel = group == g
        kmf = KaplanMeierFitter().fit(time[sel], event[sel])
        ci = kmf.confidence_interval_survival_function_
        for t in times:
            s = float(kmf.survival_function_at_times(t).iloc[0])
            idx = ci.index[ci.index <= t]
            lo, hi = (ci.loc[idx[-1]].to_numpy() if len(idx) else (1.0, 1.0))
            rows.append({"group": g, "time": t, "survival": s, "lower": float(lo), "upper": float(hi)})
    return pd.DataFrame(rows)


def _simulated(seed: int = 0):
    """Three groups in months with ties (times rounded to 0.5), censoring, a group whose
    last observation is an event (S reaches 0), and a patient censored at time 0."""
    rng = np.random.default_rng(seed)
    t, e, g = [], [], []
    for name, n, rate in (("train", 300, 0.012), ("internal", 150, 0.02), ("external", 40, 0.05)):
        te = rng.exponential(1 / rate, n)
        tc = rng.uniform(6, 90, n)
        t.append(np.maximum(np.round(np.minimum(te, tc) * 2) / 2, 0.5))
        e.append((te <= tc).astype(int))
        g.append(np.repeat(name, n))
    time, event, group = np.concatenate(t), np.concatenate(e), np.concatenate(g)
    ext = np.flatnonzero(group == "external")
    last = ext[np.argmax(time[ext])]
    event[last] = 1  # the external curve drops to 0
    time[ext[0]], event[ext[0]] = 0.0, 0
    return time, event, group


def test_km_table_equals_lifelines_implementation():
    time, event, group = _simulated()
    order = ["train", "internal", "external"]
    first_event = min(time[(group == g) & (event == 1)].min() for g in order)
    # before the first event (CI [1, 1]), at tied event times, landmarks, beyond the last time,
    # unsorted and repeated
    times = [60.0, 0.0, first_event / 2, 12.0, 36.0, 12.0, float(time.max()), 500.0, 24.5]
    new = km.km_table(time, event, group, times, order)
    old = _lifelines_km_table(time, event, group, times, order)
    pd.testing.assert_frame_equal(new[["group", "time"]], old[["group", "time"]])
    np.testing.assert_allclose(new[["survival", "lower", "upper"]], old[["survival", "lower", "upper"]],
                               rtol=1e-10, atol=1e-12)
    early = new[new["time"] == first_event / 2]
    assert (early[["survival", "lower", "upper"]].to_numpy() == 1.0).all()
    beyond = new[(new["group"] == "external") & (new["time"] == 500.0)]
    assert beyond[["survival", "lower", "upper"]].to_numpy().tolist() == [[0.0, 0.0, 0.0]]
    inner = new[(new["survival"] > 0) & (new["survival"] < 1)]
    assert len(inner) > 15 and (inner["lower"] < inner["survival"]).all() and (inner["survival"] < inner["upper"]).all()


# ------------------------------------------------------------------ figure
@pytest.fixture
def drawn(monkeypatch):
    """Run km_figure for real and keep the figure it saves."""
    figures = []
    save = km.save_figure

    def keep(fig, path):
        figures.append(fig)
        fig.canvas.draw()
        texts = [(t.get_gid(), t.get_text()) for t in fig.findobj(Text)]
        lines = [(line.get_xdata(), line.get_ydata(), line.get_drawstyle(), line.get_marker())
                 for line in fig.axes[0].get_lines()]
        figures[-1] = {"texts": texts, "lines": lines, "n_axes": len(fig.axes)}
        return save(fig, path)

    monkeypatch.setattr(km, "save_figure", keep)
    return figures


def test_numbers_at_risk_drawn_equal_independent_counts(tmp_path, drawn, gbsg2):
    data, r = gbsg2
    time, event, group = data["time"].to_numpy(), data["event"].to_numpy(), data["group3"].to_numpy()
    ticks = [0.0, 365.0, 730.0, 1095.0, 1460.0, 1825.0, 2190.0, 2555.0]
    order = ["I", "II", "III"]
    path = km.km_figure(time, event, group, tmp_path / "km.png", order=order, labels={"I": "Grade I"},
                        colors={"I": "C0", "II": "C1", "III": "C2"}, xticks=ticks, xlabel="Days",
                        annotation="p = 0.001")
    assert path == tmp_path / "km.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    texts = dict(t for t in drawn[0]["texts"] if t[0])
    for g in order:
        for tick in ticks:
            assert int(texts[f"at-risk|{g}|{tick:g}"]) == int(np.sum(time[group == g] >= tick)), (g, tick)
    # and R's summary.survfit n.risk at its times
    for g in order:
        at = r["km"]["group3"][g]["conf_type_log-log"]["at_times"]
        for tick, n in zip(at["time"], at["n_risk"]):
            if float(tick) in ticks:
                assert int(texts[f"at-risk|{g}|{float(tick):g}"]) == n
    all_text = [t for _, t in drawn[0]["texts"]]
    assert "Grade I" in all_text and "II" in all_text and "Number at risk" in all_text
    assert any(t.startswith("Grade I (n=81, events=18)") for t in all_text)
    assert "p = 0.001" in all_text


def test_curves_drawn_are_rs_survfit(tmp_path, drawn, gbsg2):
    data, r = gbsg2
    time, event, group = data["time"].to_numpy(), data["event"].to_numpy(), data["group2"].to_numpy()
    km.km_figure(time, event, group, tmp_path / "km.png", order=["no", "yes"], labels={},
                 colors={"no": "C0", "yes": "C1"})
    steps = [ln for ln in drawn[0]["lines"] if ln[2] == "steps-post"]
    ticks = [ln for ln in drawn[0]["lines"] if ln[3] == "|"]
    assert len(steps) == 2 and len(ticks) == 2
    for (x, y, _, _), (cx, cy, _, _), g in zip(steps, ticks, ["no", "yes"]):
        curve = r["km"]["group2"][g]["curve"]
        np.testing.assert_array_equal(x, [0.0, *curve["time"]])
        np.testing.assert_allclose(y, [1.0, *curve["surv"]], rtol=RTOL, atol=0)
        censored = np.asarray(curve["n_censor"]) > 0
        np.testing.assert_array_equal(cx, np.asarray(curve["time"], float)[censored])
        np.testing.assert_allclose(cy, np.asarray(curve["surv"])[censored], rtol=RTOL)


def test_figure_is_written_deterministically(tmp_path):
    time, event, group = _simulated(1)
    kwargs = dict(order=["train", "internal", "external"], labels={"train": "Training"},
                  colors={"train": "#0072B2", "internal": "#E69F00", "external": "#009E73"})
    a = km.km_figure(time, event, group, tmp_path / "a.png", **kwargs)
    b = km.km_figure(time, event, group, tmp_path / "sub" / "b.png", **kwargs)
    assert a.stat().st_size > 20_000
    assert a.read_bytes() == b.read_bytes()
    # a group absent from the data is skipped, not drawn empty
    km.km_figure(time, event, group, tmp_path / "c.png", order=["train", "missing"], labels={}, colors={})
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_default_xticks_and_n_at_risk():
    time = np.r_[np.full(90, 30.0), np.full(10, 100.0)]
    assert km.default_xticks(time) == [0.0, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0, 84.0, 96.0]
    assert km.n_at_risk(time, [0, 30, 30.5, 100, 101]).tolist() == [100, 100, 10, 10, 0]


def test_no_lifelines_in_the_module():
    source = Path(km.__file__).read_text(encoding="utf-8")
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                                            if isinstance(node, ast.ImportFrom) and node.module}
    assert "lifelines" not in imported
