"""The input contract: a manifest CSV, one row per patient (``docs/design.md``, "The input contract").

``patient_id``, ``center``, optional ``split`` (train/internal/external),
``dfs_time`` (in the profile's ``time_unit``), ``dfs_event`` (0/1), the clinical
and traditional-MRI columns declared in the profile, and image/mask paths
(``us_image``, ``us_mask``, ``mri_image``, ``mri_mask``) relative to the manifest.

Validation runs before any work. Every problem names the row, the patient, the
column and what is wrong; nothing is dropped silently: with ``on_invalid: exclude``
the offending rows are removed *and listed* so the patient flow can show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..exceptions import ManifestError
from ..labels import SPLIT_LABELS, SPLITS
from ..results import ShowsItself

__all__ = ["IMAGE_COLUMNS", "MONTHS_PER_DAY", "LoadedCohort", "ManifestError", "ManifestSpec", "Problem", "REQUIRED_COLUMNS",
           "InputReport", "check_events", "coerce_types", "cohort_outcomes", "derive_split", "load_cohort",
           "load_cohort_from_profile", "read_manifest", "to_months", "check_from_profile", "check_image_files",
           "check_manifest"]

REQUIRED_COLUMNS = ("patient_id", "center", "dfs_time", "dfs_event")
#: Months in a day: follow-up given in days is reported in months (1 month = 365.25/12 days).
MONTHS_PER_DAY = 12 / 365.25
IMAGE_COLUMNS = ("us_image", "us_mask", "mri_image", "mri_mask")


@dataclass(frozen=True)
class Problem:
    """One problem of the input checks. ``row`` is the 1-based data row (the header is not counted)."""

    row: int | None
    patient_id: str | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.patient_id is not None:
            where.append(f"patient {self.patient_id!r}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return (", ".join(where) + ": " if where else "") + self.message


@dataclass(frozen=True)
class ManifestSpec:
    """What a manifest must look like, read from the profile's ``cohort`` section."""

    columns: Mapping[str, Any]            # name -> "numeric" or list of categories
    internal_centers: tuple[str, ...]
    external_centers: tuple[str, ...]
    time_unit: str = "months"
    min_train_events: int = 0
    image_columns: tuple[str, ...] = ()
    border_margin_mm: float = 10.0        # room the peri-tumoral ring needs around the lesion
    ring_at_border: str = "refuse"        # or "clip": a lesion nearer the border is accepted, its ring clipped
    mask_label: int | None = None         # lesion label in multi-label masks

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any]) -> "ManifestSpec":
        """The contract a validated profile (:func:`radsurv.config.load_profile`) declares."""
        cohort = profile["cohort"]
        cols: dict[str, Any] = {**cohort["columns"]["clinical"], **cohort["columns"]["mri"]}
        return cls(
            columns=cols,
            internal_centers=tuple(str(c) for c in cohort["centers"]["internal"]),
            external_centers=tuple(str(c) for c in cohort["centers"]["external"]),
            time_unit=profile["time_unit"],
            min_train_events=int(cohort["min_train_events"]),
            image_columns=tuple(cohort["image_columns"]),
            border_margin_mm=float(profile["imaging"]["border_margin_mm"]),
            ring_at_border=str(profile["imaging"]["ring_at_border"]),
            mask_label=profile["imaging"]["mask_label"],
        )

    @property
    def known_centers(self) -> tuple[str, ...]:
        return self.internal_centers + self.external_centers


@dataclass(repr=False)
class InputReport(ShowsItself):
    """The result of checking a manifest against the input contract.

    Shown by the problems per column checked (:meth:`summary`: counts, never a patient).
    """

    problems: list[Problem] = field(default_factory=list)
    n_rows: int = 0
    #: What the run will do to usable inputs, not problems: masks stored on another grid
    #: over the same physical volume are resampled onto their image's grid.
    notes: list[Problem] = field(default_factory=list)
    #: Lesions the extraction settings turn down (``region_checks`` of :func:`check_manifest`),
    #: not problems: the run's 02_features leaves their patients out, and
    #: :func:`radsurv.preconditions.extractable_regions` decides what that does to the run.
    regions: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row is not None})

    def title(self) -> str:
        head = f"Input contract: {self.n_rows} rows checked, "
        if self.ok:
            head += "no problem"
        else:
            head += f"{len(self.problems)} problem(s) in {len(self.bad_rows())} row(s)"
        return head + f"; {len(self.notes)} mask(s) to resample onto their image's grid"

    def summary(self) -> pd.DataFrame:
        """Per column checked: ``problems`` (all found), ``rows`` (rows with one) and
        ``first_in_row`` (rows whose first problem is in this column: the flow's reason
        ``invalid <column>``, :func:`radsurv.cohort.stage.input_exclusions`); a
        problem of the whole table (a missing column) counts under ``rows`` as 0. The
        masks to resample are a last row (``notes``), not problems."""
        first: dict[int, str] = {}
        for p in self.problems:
            if p.row is not None:
                first.setdefault(p.row, str(p.column))
        rows = []
        for column in dict.fromkeys(str(p.column) for p in self.problems):
            mine = [p for p in self.problems if str(p.column) == column]
            rows.append({"column": column, "problems": len(mine),
                         "rows": len({p.row for p in mine if p.row is not None}),
                         "first_in_row": sum(c == column for c in first.values())})
        if self.notes:
            rows.append({"column": "notes: mask resampled onto the image grid", "problems": 0,
                         "rows": len({n.row for n in self.notes}), "first_in_row": 0})
        return pd.DataFrame(rows, columns=["column", "problems", "rows", "first_in_row"]).set_index("column")


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest CSV as strings (types are checked by :func:`check_manifest`)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(str(path), [Problem(None, None, None, "file not found")])
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ManifestError(str(path), [Problem(None, None, None, f"not a readable CSV file ({exc})")]) from None
    df.columns = [c.strip() for c in df.columns]
    return df


def to_months(time, unit: str) -> np.ndarray:
    """Follow-up in months from the manifest's unit (``months`` or ``days``; 1 month = 365.25/12 days)."""
    t = np.asarray(time, dtype=float)
    if unit == "months":
        return t
    if unit == "days":
        return t * MONTHS_PER_DAY
    raise ValueError(f"time_unit: expected 'months' or 'days', got {unit!r}")


def cohort_outcomes(data: pd.DataFrame, patients: pd.Index, time_unit: str) -> pd.DataFrame:
    """Split, follow-up in months and DFS event of ``patients`` (index ``patient_id``), from
    the cohort table ``data`` (``patient_id``, ``split``, ``dfs_time`` in ``time_unit``,
    ``dfs_event``): what the signatures, models, validation and sensitivity stages analyse."""
    d = data.set_index("patient_id").loc[patients]
    return pd.DataFrame({"split": d["split"].to_numpy(), "time": to_months(d["dfs_time"], time_unit),
                         "event": d["dfs_event"].to_numpy(dtype=int)}, index=patients)


def _pid(df: pd.DataFrame, i: int) -> str | None:
    if "patient_id" not in df.columns:
        return None
    v = df["patient_id"].iloc[i]
    return None if pd.isna(v) else str(v)


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def check_manifest(df: pd.DataFrame, spec: ManifestSpec, base_dir: Path | None = None,
                      check_images: bool = False, n_jobs: int = 1,
                      region_checks: Mapping[str, Any] | None = None) -> InputReport:
    """Check every tabular rule of the input contract.

    Parameters
    ----------
    df : DataFrame
        The manifest as read by :func:`read_manifest` (strings) or built in memory.
    spec : ManifestSpec
        Declared columns, centres and limits.
    base_dir : Path, optional
        Folder the image paths are relative to; when given, listed image files must
        exist.
    check_images : bool
        Also read every image and mask and check them (:func:`check_image_files`).
    n_jobs : int
        Threads for the image checks.
    region_checks : mapping, optional
        Modality -> ``region_check`` of :func:`radsurv.imaging.checks.check_image_pair`
        (:func:`radsurv.preconditions.region_checks`): the lesions it turns down go to the
        report's ``regions``.

    Returns
    -------
    InputReport
        All problems found (empty when the manifest is usable).
    """
    rep = InputReport(n_rows=len(df))
    add = rep.problems.append
    missing = [c for c in (*REQUIRED_COLUMNS, *spec.image_columns) if c not in df.columns]
    for c in missing:
        add(Problem(None, None, c, "required column is missing"))
    declared = [c for c in spec.columns if c not in df.columns]
    for c in declared:
        add(Problem(None, None, c, "column declared in the profile (cohort.columns) is missing"))
    if declared:
        # The usual cause: a profile that extends another keeps the parent's columns.
        add(Problem(None, None, "cohort.columns",
                    f"{len(declared)} of the {len(spec.columns)} columns the profile declares are not in the "
                    "manifest: add them to the manifest, or declare only your own columns. A profile that "
                    "extends another (extends: paper) keeps the parent's columns and adds its own; to replace "
                    "them, write 'columns: !override' above your clinical and mri columns (README.md, "
                    "'Running on your own cohort')"))
    if len(df) == 0:
        add(Problem(None, None, None, "the manifest has no rows"))
        return rep

    if "patient_id" in df.columns:
        ids = df["patient_id"].astype("string").str.strip()
        for i in np.flatnonzero(ids.isna() | (ids == "")):
            add(Problem(i + 1, None, "patient_id", "missing patient identifier"))
        dup = ids.duplicated(keep="first") & ids.notna()
        for i in np.flatnonzero(dup):
            first = int(np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0]) + 1
            add(Problem(i + 1, str(ids.iloc[i]), "patient_id", f"duplicate identifier (first seen in row {first})"))

    if "center" in df.columns:
        for i, v in enumerate(df["center"]):
            if pd.isna(v) or str(v).strip() == "":
                add(Problem(i + 1, _pid(df, i), "center", "missing centre"))
            elif _center_key(v) not in spec.known_centers:
                add(Problem(i + 1, _pid(df, i), "center",
                            f"unknown centre {v!r} (the profile declares {', '.join(spec.known_centers)})"))

    if "split" in df.columns:
        for i, v in enumerate(df["split"]):
            if pd.isna(v) or str(v).strip() not in SPLITS:
                add(Problem(i + 1, _pid(df, i), "split", f"unknown split {v!r} (expected one of {', '.join(SPLITS)})"))

    if "dfs_time" in df.columns:
        t = _numeric(df["dfs_time"])
        for i, (raw, val) in enumerate(zip(df["dfs_time"], t)):
            if pd.isna(raw) or str(raw).strip() == "":
                add(Problem(i + 1, _pid(df, i), "dfs_time", "missing follow-up time"))
            elif pd.isna(val) or not np.isfinite(val):
                add(Problem(i + 1, _pid(df, i), "dfs_time", f"not a number: {raw!r}"))
            elif val < 0:
                add(Problem(i + 1, _pid(df, i), "dfs_time", f"negative follow-up time {raw!r}"))
            elif val == 0:
                add(Problem(i + 1, _pid(df, i), "dfs_time", "follow-up time is zero (no time at risk)"))

    if "dfs_event" in df.columns:
        for i, raw in enumerate(df["dfs_event"]):
            if pd.isna(raw) or str(raw).strip() not in ("0", "1", "0.0", "1.0"):
                add(Problem(i + 1, _pid(df, i), "dfs_event", f"event must be 0 or 1, got {raw!r}"))

    for col, kind in spec.columns.items():
        if col not in df.columns:
            continue
        values = df[col]
        if kind == "numeric":
            num = _numeric(values)
            for i in np.flatnonzero(values.notna() & num.isna()):
                add(Problem(i + 1, _pid(df, i), col, f"not a number: {values.iloc[i]!r}"))
        else:
            allowed = [str(x) for x in kind]
            for i in np.flatnonzero(values.notna() & ~values.astype(str).isin(allowed)):
                add(Problem(i + 1, _pid(df, i), col,
                            f"unknown category {values.iloc[i]!r} (allowed: {', '.join(allowed)})"))

    if base_dir is not None:
        # An empty path in a required image column is reported in both modes (the image
        # checks skip rows without a path, so they would not report it).
        for col in IMAGE_COLUMNS:
            if col not in df.columns:
                continue
            for i, v in enumerate(df[col]):
                if pd.isna(v) or str(v).strip() == "":
                    if col in spec.image_columns:
                        add(Problem(i + 1, _pid(df, i), col, "missing file path"))
                    continue
                if not check_images and not (Path(base_dir) / str(v)).exists():
                    add(Problem(i + 1, _pid(df, i), col, f"file not found: {v}"))
        if check_images:
            rep.problems.extend(check_image_files(df, spec, Path(base_dir), n_jobs=n_jobs, notes=rep.notes,
                                                  region_checks=region_checks, regions=rep.regions))
    return rep


def check_image_files(df: pd.DataFrame, spec: ManifestSpec, base_dir: Path, n_jobs: int = 1,
                    notes: list[Problem] | None = None, progress: bool | None = None,
                    region_checks: Mapping[str, Any] | None = None, regions: list[Problem] | None = None
                    ) -> list[Problem]:
    """Read every listed image and mask and check them (the input contract).

    Each problem names the row, the patient, the column and the file: missing or
    unreadable file, image and mask covering different physical volumes (with their
    size/spacing/origin/direction), empty mask, multi-label mask with no label chosen,
    lesion closer to the border than the peri-tumoral ring needs (unless the profile
    clips the ring), wrong dimensionality for the modality.

    ``notes`` (when given) receives the masks that are usable after resampling onto
    their image's grid (same physical volume, other voxel order or spacing); ``regions``
    (when given) the lesions that ``region_checks[modality]`` turns down. A progress
    bar is shown for more than 50 image checks (``progress=None``), or as told.
    """
    from joblib import Parallel, delayed
    from ..progress import tqdm

    from ..imaging.checks import REGION, check_image_pair

    jobs = []
    for modality in ("us", "mri"):
        img_col, mask_col = f"{modality}_image", f"{modality}_mask"
        if img_col not in df.columns:
            continue
        for i in range(len(df)):
            img = df[img_col].iloc[i]
            if pd.isna(img) or str(img).strip() == "":
                continue
            mask = df[mask_col].iloc[i] if mask_col in df.columns else None
            mask = None if mask is None or pd.isna(mask) or str(mask).strip() == "" else str(base_dir / str(mask))
            jobs.append((i, modality, str(base_dir / str(img)), mask))

    def run(job):
        i, modality, img, mask = job
        pid = _pid(df, i) or f"row {i + 1}"
        found_notes: list = []
        found_regions: list = []
        found = check_image_pair(pid, img, mask, modality, border_margin_mm=spec.border_margin_mm,
                                 label=spec.mask_label, ring_at_border=spec.ring_at_border, notes=found_notes,
                                 region_check=(region_checks or {}).get(modality), regions=found_regions)
        return i, img, mask, modality, found, found_notes + found_regions

    show = len(jobs) > 50 if progress is None else progress
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(delayed(run)(j) for j in jobs)
    results = list(tqdm(results, total=len(jobs), desc="image checks", unit="image", disable=not show))
    problems = []
    for i, img, mask, modality, found, found_notes in results:
        for p, out in [(p, problems) for p in found] + [(p, regions if p.code == REGION else notes)
                                                          for p in found_notes]:
            if out is None:
                continue
            column = f"{modality}_image" if p.file == img else f"{modality}_mask"
            rel = Path(p.file).relative_to(base_dir) if Path(p.file).is_relative_to(base_dir) else p.file
            out.append(Problem(i + 1, _pid(df, i), column, f"{rel}: {p.message}"))
    return problems


def _center_key(v) -> str:
    """Centres are compared as text; '1', '1.0' and 1 are the same centre."""
    s = str(v).strip()
    try:
        f = float(s)
        if f.is_integer():
            return str(int(f))
    except ValueError:
        pass
    return s


def coerce_types(df: pd.DataFrame, spec: ManifestSpec) -> pd.DataFrame:
    """Return a typed copy: numbers as floats, event as int, categories as ordered Categorical."""
    out = df.copy()
    out["patient_id"] = out["patient_id"].astype(str).str.strip()
    out["center"] = out["center"].map(_center_key)
    out["dfs_time"] = _numeric(out["dfs_time"]).astype(float)
    out["dfs_event"] = _numeric(out["dfs_event"]).astype(int)
    for col, kind in spec.columns.items():
        if kind == "numeric":
            out[col] = _numeric(out[col]).astype(float)
        else:
            out[col] = pd.Categorical(out[col], categories=[str(x) for x in kind], ordered=False)
    if "split" in out.columns:
        out["split"] = out["split"].astype(str).str.strip()
    return out


def derive_split(df: pd.DataFrame, spec: ManifestSpec, n_train: int | float, seed: int,
                 stratify: str | None = "dfs_event") -> pd.Series:
    """Assign train/internal/external as in the study.

    Centres declared external form the external test set; the internal centres are
    split at random into training and internal test, stratified by ``stratify``.
    ``n_train`` is a count (>= 1) or a fraction (< 1) of the internal centres.
    """
    split = pd.Series("external", index=df.index, dtype=object)
    internal = df["center"].isin(spec.internal_centers).to_numpy()
    idx = df.index[internal]
    if len(idx) == 0:
        raise ManifestError("split", [Problem(None, None, "center", "no patient from an internal centre: nothing to train on")])
    size = int(n_train) if n_train >= 1 else float(n_train)
    if isinstance(size, int) and size >= len(idx):
        raise ManifestError("split", [Problem(None, None, "split", f"n_train={size} but only {len(idx)} internal patients")])
    strat = df.loc[idx, stratify].to_numpy() if stratify else None
    if strat is not None:
        values, counts = np.unique(strat, return_counts=True)
        if (counts < 2).any():
            raise ManifestError("split", [Problem(None, None, stratify,
                f"cannot stratify the split by {stratify!r}: value {values[counts < 2][0]!r} occurs only "
                f"{counts[counts < 2][0]} time(s) in the internal centres")])
    train_idx, _ = train_test_split(idx.to_numpy(), train_size=size, random_state=seed, stratify=strat)
    split.loc[idx] = "internal"
    split.loc[train_idx] = "train"
    return split


def check_events(df: pd.DataFrame, spec: ManifestSpec) -> list[Problem]:
    """Too few training events for the requested models is an error before any fit."""
    train = df[df["split"] == "train"]
    events = int(train["dfs_event"].sum())
    if events < spec.min_train_events:
        return [Problem(None, None, "dfs_event",
                        f"only {events} events in the training set; the profile requires at least "
                        f"{spec.min_train_events} (cohort.min_train_events) for the Cox models")]
    return []


@dataclass(repr=False)
class LoadedCohort(ShowsItself):
    """A validated, typed cohort with its split, and the rows excluded on the way.

    Shown by its sets (:meth:`summary`: patients, events and centres per set) and the
    exclusions by reason (:meth:`exclusions`), never by patient.
    """

    data: pd.DataFrame
    excluded: pd.DataFrame      # patient_id, row, reason (one line per excluded row)
    source: str
    #: Masks of kept patients to be resampled onto their image's grid (``InputReport.notes``).
    notes: list[Problem] = field(default_factory=list)
    #: Lesions of kept patients that the extraction settings turn down (``InputReport.regions``).
    regions: list[Problem] = field(default_factory=list)

    def title(self) -> str:
        d = self.data
        return (f"Cohort: {len(d)} patients analysed from {d['center'].nunique()} centres, "
                f"{int(d['dfs_event'].sum())} DFS events; {len(self.excluded)} row(s) excluded")

    def summary(self) -> pd.DataFrame:
        """Per set (training, internal test, external test) and overall: ``patients``,
        ``events``, ``event_rate`` and the ``centres`` it draws from."""
        d = self.data
        rows = []
        for s in SPLITS:
            part = d[d["split"] == s]
            rows.append({"set": SPLIT_LABELS[s], "patients": len(part), "events": int(part["dfs_event"].sum()),
                         "centres": ", ".join(sorted(part["center"].astype(str).unique()))})
        rows.append({"set": "Overall", "patients": len(d), "events": int(d["dfs_event"].sum()),
                     "centres": ", ".join(sorted(d["center"].astype(str).unique()))})
        out = pd.DataFrame(rows).set_index("set")
        out.insert(2, "event_rate", out["events"] / out["patients"].where(out["patients"] > 0))
        return out

    def exclusions(self) -> pd.DataFrame:
        """Rows excluded per reason (``invalid <first failing column>``, as the patient
        flow counts them); empty when none was."""
        first = self.excluded["reason"].str.split(":").str[0]
        counts = first.value_counts().sort_index()
        return pd.DataFrame({"rows": counts.to_numpy(dtype=int)},
                            index=pd.Index([f"invalid {c}" for c in counts.index], name="reason"))


def load_cohort(df: pd.DataFrame, spec: ManifestSpec, *, source: str, seed: int, split_params: Mapping[str, Any],
                on_invalid: str = "fail", base_dir: Path | None = None, check_images: bool = False,
                n_jobs: int = 1, report: InputReport | None = None) -> LoadedCohort:
    """Validate, type and split a manifest.

    Raises :class:`ManifestError` listing every problem when ``on_invalid`` is
    ``"fail"`` (the default), or when problems are not row-specific (a missing
    column). With ``"exclude"``, rows with problems are dropped and returned in
    ``excluded`` with their reasons. ``report`` is a check already made with
    :func:`check_manifest` (it is not repeated).
    """
    if on_invalid not in ("fail", "exclude"):
        raise ValueError(f"cohort.on_invalid: expected 'fail' or 'exclude', got {on_invalid!r}")
    rep = report if report is not None else check_manifest(df, spec, base_dir=base_dir,
                                                              check_images=check_images, n_jobs=n_jobs)
    global_problems = [p for p in rep.problems if p.row is None]
    if global_problems or (rep.problems and on_invalid == "fail"):
        raise ManifestError(source, rep.problems)
    bad = set(rep.bad_rows())
    reasons = {}
    for p in rep.problems:
        reasons.setdefault(p.row, []).append(f"{p.column}: {p.message}")
    excluded = pd.DataFrame(
        [{"row": r, "patient_id": _pid(df, r - 1), "reason": "; ".join(reasons[r])} for r in sorted(bad)],
        columns=["row", "patient_id", "reason"],
    )
    keep = df.iloc[[i for i in range(len(df)) if (i + 1) not in bad]].reset_index(drop=True)
    data = coerce_types(keep, spec)
    internal_events = int(data.loc[data["center"].isin(spec.internal_centers), "dfs_event"].sum())
    if internal_events < spec.min_train_events:
        raise ManifestError(source, [Problem(None, None, "dfs_event",
            f"only {internal_events} events in the internal centres; the profile requires at least "
            f"{spec.min_train_events} in the training set (cohort.min_train_events) for the Cox models")])
    if "split" not in data.columns or data["split"].isna().all():
        data["split"] = derive_split(data, spec, split_params["n_train"], seed, split_params["stratify"]).to_numpy()
    problems = check_events(data, spec)
    if problems:
        raise ManifestError(source, problems)
    notes = [n for n in rep.notes if n.row not in bad]
    regions = [r for r in rep.regions if r.row not in bad]
    return LoadedCohort(data=data, excluded=excluded, source=source, notes=notes, regions=regions)


def check_from_profile(profile: Mapping[str, Any], manifest: Path, n_jobs: int) -> InputReport:
    """Check a manifest against the profile's contract (:meth:`ManifestSpec.from_profile`):
    every column, and every image and mask read with ``n_jobs`` workers.

    Parameters
    ----------
    profile : mapping
        The validated profile.
    manifest : path
        The manifest CSV (image paths relative to its folder).
    n_jobs : int
        Threads for the image checks.

    Returns
    -------
    InputReport
        Every problem and note; hand it to :func:`load_cohort_from_profile` so that the
        images are not read twice.
    """
    spec = ManifestSpec.from_profile(profile)
    return check_manifest(read_manifest(manifest), spec, base_dir=Path(manifest).resolve().parent,
                             check_images=True, n_jobs=n_jobs)


def load_cohort_from_profile(profile: Mapping[str, Any], manifest: Path, n_jobs: int,
                             report: InputReport | None = None,
                             region_checks: Mapping[str, Any] | None = None) -> LoadedCohort:
    """Read and check a manifest with the profile's contract (:meth:`ManifestSpec.from_profile`,
    ``cohort.split``, ``cohort.on_invalid``), checking every image with ``n_jobs`` workers
    (or taking ``report``, :func:`check_from_profile`, as the check); derive the
    split if absent. ``region_checks``: as :func:`check_manifest`'s (the lesions they turn
    down are the result's ``regions``)."""
    if report is None and region_checks:
        report = check_manifest(read_manifest(manifest), ManifestSpec.from_profile(profile),
                                base_dir=Path(manifest).resolve().parent, check_images=True, n_jobs=n_jobs,
                                region_checks=region_checks)
    spec = ManifestSpec.from_profile(profile)
    raw = read_manifest(manifest)
    cohort = profile["cohort"]
    return load_cohort(
        raw, spec, source=str(manifest), seed=int(profile["seed"]), split_params=cohort["split"],
        on_invalid=cohort["on_invalid"], base_dir=Path(manifest).resolve().parent,
        check_images=True, n_jobs=n_jobs, report=report,
    )
