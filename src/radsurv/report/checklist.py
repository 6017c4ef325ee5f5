"""Reporting checklists filled from the run: TRIPOD+AI and CLEAR's image-processing items.

* TRIPOD+AI (Collins et al., BMJ 2024): every item and sub-item with the places of this
  manuscript that answer it, from ``checklists/tripod_ai.yml``. What a simulation makes
  "not applicable" (ethics, outcome assessors) becomes the authors' to report when the
  run is a user's own cohort, and what no software can know (funding, registration,
  fairness) is marked for the authors in every run.
* CLEAR (Kocak et al., Insights Imaging 2023): the items on segmentation, image
  pre-processing, feature extraction and segmentation reliability (19-28 and 31), their
  answers written from the PyRadiomics parameter files, the segmentation section of the
  profile and the stages' variables, so that they state the values this run used.

The tables refer to sections, tables and figures by cross-reference; the manuscript
check resolves every one of them, so a checklist can never point at something the paper
does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping, Sequence

import pandas as pd
import yaml

from ..labels import FEATURE_CLASS_LABELS, MODALITY_LABELS

__all__ = ["STATUS_LABELS", "ChecklistItem", "checklist_table", "clear_checklist", "coverage", "tripod_ai_checklist"]

#: How a status is printed.
STATUS_LABELS: dict[str, str] = {"reported": "Reported", "partly": "Partly", "not_applicable": "Not applicable",
                                 "authors": "For the authors"}


@dataclass(frozen=True)
class ChecklistItem:
    """One checklist item and this run's answer.

    Attributes
    ----------
    id, section, topic, asks : str
        The item's number, its section of the statement, its topic and, in short, what it asks.
    status : str
        One of :data:`STATUS_LABELS`.
    where : tuple of str
        Places of the manuscript that answer it ("@sec-data", "Title").
    note : str
        What the run does for it, with the values it used where the item asks for them.
    """

    id: str
    section: str
    topic: str
    asks: str
    status: str
    where: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUS_LABELS:
            raise ValueError(f"checklist item {self.id}: status {self.status!r} is not one of {sorted(STATUS_LABELS)}")
        if self.status in ("reported", "partly") and not self.where:
            raise ValueError(f"checklist item {self.id} is {self.status} but names no place in the manuscript")


def tripod_ai_checklist(own_cohort: bool) -> list[ChecklistItem]:
    """The TRIPOD+AI items with this paper's answers.

    Parameters
    ----------
    own_cohort : bool
        True when the run analyses a user's cohort (a manifest): the items the
        simulation answers by construction are then the authors' to complete.

    Returns
    -------
    list of ChecklistItem
        In the statement's order.
    """
    text = resources.files("radsurv.report").joinpath("checklists/tripod_ai.yml").read_text(encoding="utf-8")
    items = []
    for raw in yaml.safe_load(text):
        raw = dict(raw)
        override = raw.pop("cohort", None) or {}
        if own_cohort:
            raw.update(override)
        raw["where"] = tuple(raw.get("where") or ())
        items.append(ChecklistItem(**{k: str(v) if k not in ("where",) else v for k, v in raw.items()}))
    return items


# --- CLEAR: segmentation, pre-processing and feature extraction -----------------------

#: PyRadiomics' defaults for the settings the items ask about (radiomics.imageoperations
#: and featureextractor): a file that omits one of them runs with this value.
PYRADIOMICS_DEFAULTS: dict[str, Any] = {"normalize": False, "normalizeScale": 1, "removeOutliers": None,
                                        "resampledPixelSpacing": None, "interpolator": "sitkBSpline",
                                        "binWidth": 25, "binCount": None, "wavelet": "coif1", "start_level": 0,
                                        "level": 1}



def _setting(settings: Mapping[str, Any], key: str) -> Any:
    value = (settings.get("setting") or {}).get(key)
    return PYRADIOMICS_DEFAULTS.get(key) if value is None else value


def _num(x: Any) -> str:
    return f"{float(x):g}"


def _per_modality(settings: Mapping[str, Mapping], describe) -> str:
    """One phrase per modality, or one for all when they agree."""
    phrases = {m: describe(s) for m, s in settings.items()}
    if len(set(phrases.values())) == 1 and len(phrases) > 1:
        return f"both modalities: {next(iter(phrases.values()))}"
    return "; ".join(f"{MODALITY_LABELS.get(m, m)}: {p}" for m, p in phrases.items())


def _preprocessing(s: Mapping[str, Any]) -> str:
    if _setting(s, "normalize"):
        out = f"z-score normalisation of the whole image, scaled by {_num(_setting(s, 'normalizeScale'))}"
        if _setting(s, "removeOutliers") is not None:
            out += f", values beyond {_num(_setting(s, 'removeOutliers'))} SD clipped"
    else:
        out = "no intensity normalisation"
    return out


def _resampling(s: Mapping[str, Any]) -> str:
    spacing = _setting(s, "resampledPixelSpacing")
    if not spacing:
        return "native spacing, no resampling"
    grid = " x ".join(_num(v) for v in spacing)
    return f"resampled to {grid} mm ({_setting(s, 'interpolator')} for the image, nearest neighbour for the mask)"


def _discretisation(s: Mapping[str, Any]) -> str:
    count = (s.get("setting") or {}).get("binCount")
    if count:
        return f"fixed bin number, {int(count)} bins"
    return f"fixed bin width {_num(_setting(s, 'binWidth'))}"


def _image_types(s: Mapping[str, Any]) -> str:
    parts = []
    for name, opts in (s.get("imageType") or {}).items():
        opts = opts or {}
        if name == "LoG":
            sig = ", ".join(_num(v) for v in opts.get("sigma", []))
            parts.append(f"Laplacian of Gaussian (sigma {sig} mm)")
        elif name == "Wavelet":
            wavelet = opts.get("wavelet", _setting(s, "wavelet"))
            level = opts.get("level", _setting(s, "level"))
            parts.append(f"undecimated wavelet ({wavelet}, {level} level{'s' if int(level) > 1 else ''}, all sub-bands)")
        elif name == "Original":
            parts.append("original")
        else:
            parts.append(name)
    return ", ".join(parts) or "original"


def _classes(s: Mapping[str, Any]) -> str:
    out = []
    for name, feats in (s.get("featureClass") or {}).items():
        label = FEATURE_CLASS_LABELS.get(name, name)
        out.append(label if not feats else f"{label} ({len(feats)} named features)")
    return ", ".join(out) + " (every feature of a class unless named)"


def _var(variables: Mapping[str, Any], dotted: str, default: str = "–") -> str:
    node: Any = variables
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return str(node)


def _segmentation_strategy(segmentation: Mapping[str, Any], modalities: Sequence[str],
                           variables: Mapping[str, Any]) -> str:
    if segmentation.get("use_supplied_masks"):
        return "the masks supplied with the cohort were the analysis masks; no network was trained or run"
    parts = []
    for m in modalities:
        cfg = segmentation.get(m) or {}
        dim = "2D" if m == "us" else "3D"
        if cfg.get("weights"):
            how = f"{dim} U-Net (MONAI) with supplied trained weights"
        else:
            unet = cfg.get("unet") or {}
            how = (f"{dim} U-Net (MONAI) trained on {_var(variables, f'segmentation.{m}.n_dev_train')} development "
                   f"images ({unet.get('epochs', '–')} epochs), evaluated on "
                   f"{_var(variables, f'segmentation.{m}.n_dev_test')} held out")
        parts.append(f"{MODALITY_LABELS.get(m, m)}: {how}; the whole lesion "
                     f"({'image' if m == 'us' else 'volume'}) was segmented, "
                     f"{_var(variables, f'segmentation.{m}.n_fallback')} failed masks replaced as the policy "
                     f"'{segmentation.get('policy', 'reader')}' says")
    return "; ".join(parts)


def clear_checklist(settings: Mapping[str, Mapping[str, Any]], *, segmentation: Mapping[str, Any],
                    features: Mapping[str, Any], variables: Mapping[str, Any], extractor: str,
                    own_cohort: bool) -> list[ChecklistItem]:
    """CLEAR items 19-28 and 31 answered with the values of this run.

    Parameters
    ----------
    settings : mapping
        Modality -> the PyRadiomics parameters used (the parameter file as read, with
        the profile's ``image_types`` applied).
    segmentation, features : mapping
        The profile's ``segmentation`` and ``features`` sections.
    variables : mapping
        The stages' merged variables (segmentation counts, feature counts, ICC settings).
    extractor : str
        The feature software and its pinned version ("pyradiomics-bhklab 3.1.4").
    own_cohort : bool
        A user's cohort: the operators of the masks are the authors' to describe.

    Returns
    -------
    list of ChecklistItem
    """
    mods = list(settings)
    ring = features.get("ring_width_mm")
    air = {m: t for m, t in (features.get("air_threshold") or {}).items() if t is not None}
    ring_text = f"; peri-tumoral ring {_num(ring)} mm grown outward in physical units"
    if air:
        ring_text += ", voxels at or below " + ", ".join(f"{_num(t)} ({MODALITY_LABELS.get(m, m)})"
                                                        for m, t in air.items()) + " dropped as air"
    files = ", ".join(f"`{p}`" for p in (features.get("params") or {}).values())
    operators = ("the reader's masks (fallback and robustness) are simulated delineations with a stated boundary "
                 "noise; no human operator" if not own_cohort else "")
    items = [
        ChecklistItem("19", "Segmentation", "Segmentation strategy", "how and with what the regions were segmented",
                      "reported", ("@sec-segmentation", "@tbl-segmentation"),
                      _segmentation_strategy(segmentation, mods, variables)),
        ChecklistItem("20", "Segmentation", "Operators", "who segmented, with what experience",
                      "authors" if own_cohort else "reported", () if own_cohort else ("@sec-segmentation",),
                      "the readers of the supplied masks are for the authors to describe" if own_cohort else operators),
        ChecklistItem("21", "Pre-processing", "Image pre-processing", "every pre-processing step",
                      "reported", ("@sec-features",), _per_modality(settings, _preprocessing) + ring_text),
        ChecklistItem("22", "Pre-processing", "Resampling", "resampling method and parameters",
                      "reported", ("@sec-features",), _per_modality(settings, _resampling)),
        ChecklistItem("23", "Pre-processing", "Discretisation", "discretisation method and parameters",
                      "reported", ("@sec-features",), _per_modality(settings, _discretisation)),
        ChecklistItem("24", "Pre-processing", "Image types", "original, filtered and transformed images used",
                      "reported", ("@sec-features",), _per_modality(settings, _image_types)),
        ChecklistItem("25", "Feature extraction", "Extraction method", "software, version and IBSI compliance",
                      "reported", ("@sec-features", "@tbl-ibsi", "@tbl-software"),
                      f"{extractor}; {_var(variables, 'features.ibsi.n_pass')} of the "
                      f"{_var(variables, 'features.ibsi.n_mapped')} features with an IBSI 1 equivalent matched the "
                      f"digital phantom's reference values"),
        ChecklistItem("26", "Feature extraction", "Feature classes", "the feature classes extracted",
                      "reported", ("@sec-features", "@tbl-features"), _per_modality(settings, _classes)),
        ChecklistItem("27", "Feature extraction", "Number of features", "how many features",
                      "reported", ("@sec-features", "@tbl-features"),
                      f"{_var(variables, 'features.n_per_region')} per region and modality, "
                      f"{_var(variables, 'features.n_total')} in all"),
        ChecklistItem("28", "Feature extraction", "Default configuration", "statement on the parameters not named",
                      "reported", ("@sec-features",),
                      f"every setting not named in {files} keeps PyRadiomics' default; the files are part of the "
                      f"repository and are read unchanged by the PyRadiomics command line"),
        ChecklistItem("31", "Data preparation", "Segmentation reliability", "reliability analysis of segmentation",
                      "reported", ("@sec-features", "@fig-icc"),
                      f"{_var(variables, 'features.icc_form')} in {_var(variables, 'features.n_subset')} training "
                      f"patients {_var(variables, 'features.robustness_sources')}; features below "
                      f"{_var(variables, 'features.icc_threshold')} {_var(variables, 'features.flag_rule')} flagged "
                      f"({_var(variables, 'features.n_flagged')}) and dropped before selection"),
    ]
    return items


def checklist_table(items: Sequence[ChecklistItem], answer: str = "Note") -> pd.DataFrame:
    """The items as a table: item, topic, what it asks, status, where, and the note
    (headed ``answer``)."""
    rows = [{"Item": it.id, "Topic": it.topic, "Asks for": it.asks, "Status": STATUS_LABELS[it.status],
             "Where": "; ".join(it.where) or "–", answer: it.note} for it in items]
    return pd.DataFrame(rows, columns=["Item", "Topic", "Asks for", "Status", "Where", answer])


def coverage(items: Sequence[ChecklistItem]) -> dict[str, int]:
    """Counts of items per status, and in all."""
    out = {k: 0 for k in STATUS_LABELS}
    for it in items:
        out[it.status] += 1
    out["total"] = len(items)
    return out
