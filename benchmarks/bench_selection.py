"""Benchmark: backward elimination by AIC (the six models' selection, run m times per
development under multiple imputation and again in each of the optimism bootstrap's 200
resamples) against the obvious implementation, in the same run.

* **radsurv**: ``radsurv.models.backward_aic``: the candidates' complete patients as one
  column-major matrix, each model's columns sliced from it, ``radsurv.stats.cox_aic``
  (``fit_cox``'s fit without its standard errors, tests and tables).
* **obvious**: R's ``step`` written plainly: for every trial model, select its columns of
  the frame and call ``fit_cox(...).aic``.

Both give the same elimination path with bit-equal AICs (checked here and in
``tests/models/test_models.py``). Data: a training set of the study's size (311 patients,
about a quarter with events) with the candidates a clinical + MRI model screens in (10 variables, 14
columns: numeric and indicator columns, as the design codes them).

Run:  .venv/bin/python benchmarks/bench_selection.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radsurv.models import Design, backward_aic
from radsurv.stats import fit_cox

from _timing import best_of

N, REPEAT, ROUNDS = 311, 3, 10


def simulate(seed: int = 0) -> tuple[Design, list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols, groups, lp = {}, {}, np.zeros(N)
    for j in range(6):   # numeric: age, Ki-67, size, ...; the first three carry signal
        x = rng.standard_normal(N)
        cols[f"num{j}"] = 50 + 10 * x
        groups[f"num{j}"] = [f"num{j}"]
        lp += (0.4 if j < 3 else 0.0) * x
    for j in range(4):   # categorical with three levels, coded as two indicators
        level = rng.integers(0, 3, N)
        names = [f"cat{j}[L2]", f"cat{j}[L3]"]
        cols[names[0]], cols[names[1]] = (level == 1).astype("uint8"), (level == 2).astype("uint8")
        groups[f"cat{j}"] = names
        lp += (0.5 if j < 2 else 0.0) * (level == 2)
    X = pd.DataFrame(cols)
    t = rng.exponential(300 * np.exp(-lp))
    c = rng.uniform(24, 96, N)
    time_, event = np.round(np.minimum(t, c), 1), (t <= c).astype(int)
    return Design(X, groups, {c: c for c in X.columns}), list(groups), time_, event


def obvious_backward_aic(design: Design, variables: list[str], time_, event) -> tuple[list[str], list[float]]:
    """R's ``step(direction = "backward")`` as one would write it: a frame and a full fit per trial."""
    current = list(variables)
    aic = fit_cox(design.X[design.columns(current)], time_, event, monotone="as_r").aic
    path = [aic]
    while current:
        trials = [(fit_cox(design.X[design.columns([w for w in current if w != v])], time_, event,
                           monotone="as_r").aic if len(current) > 1 else np.inf, v) for v in current]
        best, var = min(trials, key=lambda x: (x[0], current.index(x[1])))
        if best >= aic - 1e-10:
            break
        current.remove(var)
        aic = best
        path.append(aic)
    return current, path


def main() -> None:
    design, variables, t, e = simulate()
    print(f"backward AIC on {N} patients ({int(e.sum())} events), {len(variables)} candidate variables "
          f"({design.X.shape[1]} columns); best of {REPEAT}, {ROUNDS} eliminations each")
    t_ours, ours = best_of(lambda: [backward_aic(design, variables, t, e) for _ in range(ROUNDS)][-1], REPEAT)
    t_obv, (selected, path) = best_of(lambda: [obvious_backward_aic(design, variables, t, e)
                                               for _ in range(ROUNDS)][-1], REPEAT)
    same = ours.selected == selected and [ours.aic_start, *(a for _, a in ours.steps)] == path
    print(f"  radsurv backward_aic      {t_ours / ROUNDS * 1000:8.1f} ms per elimination")
    print(f"  frame + fit_cox per trial {t_obv / ROUNDS * 1000:8.1f} ms per elimination")
    print(f"  ratio {t_obv / t_ours:.2f}x; same path and bit-equal AICs: {same} "
          f"(selected: {', '.join(ours.selected)})")
    if not same:
        raise SystemExit("the two eliminations differ")


if __name__ == "__main__":
    main()
