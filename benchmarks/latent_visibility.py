"""What PyRadiomics sees of the twin's latents, centre by centre (issue 27, items 1 and 3).

A twin trait can only reach a signature through the features, and a signature can only
travel to the external centres if the features read the trait there as they do at the
training centre. For a twin build with ``02_features`` (and the hidden truth of
``00_cohort``), this script prints, per modality and region:

* for each latent (``a_img``, ``b_img``, ``h_img``: the values the images were drawn
  with) the features that follow it best at centre 1 (Spearman's rho over centre 1's
  patients), with their rho at every other centre and their mean at that centre in
  centre-1 standard deviations (the centre's shift: scanner effect plus case mix);
* per centre, the size of the centre effect over all features: the median absolute
  standardised mean difference against centre 1 and the share of features shifted by
  more than 0.5 and 1 SD.

Usage::

    python benchmarks/latent_visibility.py build/paper [--top 3]

Nothing here enters the paper: it is a check of the generative model, run on the twin
only (a user's cohort has no truth).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from radsurv.stages.readers import read_features, read_truth

LATENTS = ("a_img", "b_img", "h_img")


def spearman_by_centre(X: pd.DataFrame, latent: pd.Series, centre: pd.Series) -> pd.DataFrame:
    """Spearman's rho of every column of ``X`` with ``latent``, one column per centre."""
    out = {}
    for c in sorted(centre.unique()):
        sel = (centre == c).to_numpy()
        ranks = X[sel].rank()
        out[c] = ranks.corrwith(latent[sel].rank())
    return pd.DataFrame(out)


def centre_shift(X: pd.DataFrame, centre: pd.Series, reference) -> pd.DataFrame:
    """Each centre's mean of every column, in the reference centre's SDs from its mean."""
    ref = X[(centre == reference).to_numpy()]
    sd = ref.std().replace(0.0, np.nan)
    return pd.DataFrame({c: (X[(centre == c).to_numpy()].mean() - ref.mean()) / sd for c in sorted(centre.unique())})


def visibility(build: Path, top: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features that follow each latent best at the reference centre, with their rho and
    shift per centre; the centre effect per modality, region and centre)."""
    truth = read_truth(build)   # the one reader of the twin's truth
    if truth is None:
        raise SystemExit(f"{build}: not a twin build (no truth): the latents are the twin's only")
    truth = truth.set_index("patient_id")
    features = read_features(build)
    latents = [c for c in LATENTS if c in truth and truth[c].notna().any()]
    best_rows, effect_rows = [], []
    for modality, region in features.regions():
        name = f"{modality}_{region}"
        X = features.matrix(modality, region)
        X = X.loc[:, X.std() > 0]
        t = truth.loc[X.index]
        centre = t["center"].astype(int)
        reference = int(centre.min())
        shift = centre_shift(X, centre, reference)
        for c in shift.columns:
            if c == reference:
                continue
            s = shift[c].abs().dropna()
            effect_rows.append({"matrix": name, "centre": c, "patients": int((centre == c).sum()),
                                "median_abs_smd": s.median(), "share_smd_gt_0.5": (s > 0.5).mean(),
                                "share_smd_gt_1": (s > 1.0).mean()})
        for lat in latents:
            rho = spearman_by_centre(X, t[lat], centre)
            for f in rho[reference].abs().sort_values(ascending=False).index[:top]:
                row = {"matrix": name, "latent": lat, "feature": f}
                row.update({f"rho_c{c}": rho.loc[f, c] for c in rho.columns})
                row.update({f"shift_c{c}": shift.loc[f, c] for c in shift.columns if c != reference})
                best_rows.append(row)
    return pd.DataFrame(best_rows), pd.DataFrame(effect_rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", type=Path, help="a twin build (its folder) with 00_cohort and 02_features")
    ap.add_argument("--top", type=int, default=3, help="features shown per latent and region")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a feature constant within one centre has no rho there
        best, effect = visibility(args.build, args.top)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.max_rows", 200):
        print("Features that follow each latent best at centre 1 (Spearman rho per centre; shift in centre-1 SDs)")
        print(best.round(2).to_string(index=False))
        print("\nCentre effect over all features (against centre 1)")
        print(effect.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
