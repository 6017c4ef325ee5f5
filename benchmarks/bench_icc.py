"""Benchmark: robustness ICC table, vectorised radsurv vs pingouin per feature.

1,000 simulated features x 60 patients x 2 mask sources ("auto", "reader") in
the tidy layout of the features stage (one modality and region), with 2% of the
values missing. Timed in the same process on the same table:

* radsurv: ``radsurv.features.robustness.icc_table`` (ICC(2,1), i.e.
  ICC(A,1), with irr's 95% CI; all features at once through
  ``radsurv.stats.icc.icc_many``);
* pingouin: the obvious alternative and this module's former implementation,
  a groupby loop over features that pivots each one and calls
  ``pingouin.intraclass_corr`` (rounding switched off).

Prints both times, the ratio, and the largest differences of the ICC and CI
limits between the two (the values must agree to rounding).

Run:  .venv/bin/python benchmarks/bench_icc.py
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from radsurv.features.robustness import icc_table

from _timing import best_of

N_FEATURES, N_PATIENTS, SOURCES = 1000, 60, ("auto", "reader")


def simulate(seed=20240601) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 1, (N_PATIENTS, N_FEATURES)) * 10.0 ** rng.uniform(-2, 4, N_FEATURES)
    noise = rng.uniform(0.05, 1.5, N_FEATURES) * truth.std(axis=0)
    frames = []
    for s, source in enumerate(SOURCES):
        values = truth + s * 0.1 * noise + rng.normal(0, 1, truth.shape) * noise
        values[rng.random(values.shape) < 0.02] = np.nan
        frames.append(pd.DataFrame({
            "patient": np.repeat([f"P{i:03d}" for i in range(N_PATIENTS)], N_FEATURES),
            "modality": "MRI", "region": "intra", "mask_source": source,
            "feature": np.tile([f"original_feature_{j:04d}" for j in range(N_FEATURES)], N_PATIENTS),
            "value": values.ravel(),
        }))
    return pd.concat(frames, ignore_index=True)


def pingouin_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """ICC(2,1) and CI per feature through pingouin (the former implementation)."""
    import pingouin

    saved = dict(pingouin.options)
    pingouin.options["round"] = None
    pingouin.options["round.column.CI95"] = None
    rows = []
    try:
        selected = tidy[tidy["mask_source"].isin(SOURCES)]
        for (modality, region, feature), group in selected.groupby(["modality", "region", "feature"], sort=False):
            ratings = group.pivot(index="patient", columns="mask_source", values="value")
            complete = ratings.reindex(columns=list(SOURCES)).dropna()
            if len(complete) < 3 or np.ptp(complete.to_numpy()) == 0:
                rows.append((modality, region, feature, np.nan, np.nan, np.nan))
                continue
            long = complete.rename_axis("subject").reset_index().melt(id_vars="subject", var_name="rater",
                                                                       value_name="rating")
            tab = pingouin.intraclass_corr(long, targets="subject", raters="rater", ratings="rating")
            row = tab.set_index("Type").loc["ICC(A,1)"]
            rows.append((modality, region, feature, float(row["ICC"]), *(float(v) for v in row["CI95"])))
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)
    return pd.DataFrame(rows, columns=["modality", "region", "feature", "icc", "lower", "upper"])


def main():
    warnings.filterwarnings("ignore")
    tidy = simulate()
    print(f"{N_FEATURES} features x {N_PATIENTS} patients x {len(SOURCES)} mask sources "
          f"({tidy['value'].isna().mean():.1%} missing), ICC(2,1) = ICC(A,1) with 95% CI")
    pingouin_table(tidy[tidy["feature"] == tidy["feature"].iloc[0]])  # warm-up (imports)
    t_ours, ours = best_of(lambda: icc_table(tidy, sources=SOURCES, form="ICC(2,1)"), repeat=5)
    t_pg, ref = best_of(lambda: pingouin_table(tidy), repeat=1)
    print(f"radsurv icc_table (vectorised):     {t_ours * 1e3:9.1f} ms")
    print(f"pingouin, one call per feature:     {t_pg * 1e3:9.1f} ms")
    print(f"ratio pingouin / radsurv: {t_pg / t_ours:.0f}x")
    assert list(ours["feature"]) == list(ref["feature"])
    for col in ("icc", "lower", "upper"):
        a, b = ours[col].to_numpy(), ref[col].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        print(f"max |{col} radsurv - pingouin| = {np.nanmax(np.abs(a - b)):.1e}")


if __name__ == "__main__":
    main()
