"""The patient flow: one record that every stage appends to.

A stage that removes patients (a failed check, no usable mask, a failed extraction)
or changes how they are analysed (an automatic mask replaced by the reader's) records
it as an event with its reason and the patients concerned. ``<stage>/flow.json`` holds
the flow up to and including that stage: :meth:`PatientFlow.read` gathers the files of
a stage's upstream stages (so every earlier event is there once), the stage adds its
own events and saves the whole. A patient is counted once, under the first reason that
removed them.

Patient identifiers stay in ``build/`` (the events need them to count each patient
once); the figure shows counts only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

import pandas as pd

from ..labels import MODALITY_LABELS

__all__ = ["FLOW_FILE", "FlowEvent", "PatientFlow", "draw_flow"]

FLOW_FILE = "flow.json"

EventKind = Literal["excluded", "fallback"]


@dataclass(frozen=True)
class FlowEvent:
    """Patients removed (``excluded``) or analysed differently (``fallback``), and why."""

    stage: str
    kind: EventKind
    reason: str
    patients: tuple[str, ...]
    modality: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("excluded", "fallback"):
            raise ValueError(f"flow event kind must be 'excluded' or 'fallback', not {self.kind!r}")


@dataclass
class PatientFlow:
    """The events of the flow, in the order they happened."""

    events: list[FlowEvent] = field(default_factory=list)

    def exclude(self, stage: str, reason: str, patients: Iterable[str], modality: str | None = None) -> None:
        """Record patients removed from the analysis (nothing is recorded for none)."""
        self._add(stage, "excluded", reason, patients, modality)

    def fallback(self, stage: str, reason: str, patients: Iterable[str], modality: str | None = None) -> None:
        """Record patients kept but analysed differently (e.g. the reader's mask instead of the U-Net's)."""
        self._add(stage, "fallback", reason, patients, modality)

    def _add(self, stage: str, kind: EventKind, reason: str, patients: Iterable[str], modality: str | None) -> None:
        ids = tuple(sorted({str(p) for p in patients}))
        if ids:
            self.events.append(FlowEvent(stage, kind, reason, ids, modality))

    # -- reading and writing ------------------------------------------------------------
    def save(self, out_dir: Path, stage: str) -> Path:
        """Write the whole flow (every earlier stage's events and this one's) to
        ``<out_dir>/flow.json``."""
        path = Path(out_dir) / FLOW_FILE
        events = [{**asdict(e), "patients": list(e.patients)} for e in self.events]
        path.write_text(json.dumps({"stage": stage, "events": events}, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, build_dir: Path, upstream: Sequence[str]) -> "PatientFlow":
        """The flow as the ``upstream`` stages left it: the events of their ``flow.json``
        files, each event once, in pipeline order (stage names sort in pipeline order).

        A stage without the file contributes nothing (it changed nothing in the flow).
        """
        events: list[FlowEvent] = []
        for stage in upstream:
            path = Path(build_dir) / stage / FLOW_FILE
            if not path.is_file():
                continue
            for e in json.loads(path.read_text(encoding="utf-8"))["events"]:
                event = FlowEvent(e["stage"], e["kind"], e["reason"], tuple(e["patients"]), e.get("modality"))
                if event not in events:
                    events.append(event)
        order = {s: i for i, s in enumerate(sorted({e.stage for e in events}))}
        return cls(sorted(events, key=lambda e: order[e.stage]))

    # -- summaries ------------------------------------------------------------------------
    def excluded_ids(self) -> set[str]:
        """Every patient removed by any event."""
        return {p for e in self.events if e.kind == "excluded" for p in e.patients}

    def exclusion_counts(self) -> list[tuple[str, int]]:
        """(reason, n) in the order the checks ran; a patient is counted once, under
        the first reason that removed it; reasons that removed nobody new are left out."""
        counts: dict[str, int] = {}
        removed: set[str] = set()
        for e in self.events:
            if e.kind != "excluded":
                continue
            new = set(e.patients) - removed
            if new:
                counts[e.reason] = counts.get(e.reason, 0) + len(new)
                removed |= new
        return list(counts.items())

    def notes(self) -> list[str]:
        """One line per fallback reason, with counts per modality (for under the diagram)."""
        by_reason: dict[str, dict[str | None, set[str]]] = {}
        for e in self.events:
            if e.kind == "fallback":
                by_reason.setdefault(e.reason, {}).setdefault(e.modality, set()).update(e.patients)
        lines = []
        for reason, per in by_reason.items():
            order = [m for m in MODALITY_LABELS if m in per] + [m for m in per if m not in MODALITY_LABELS]
            counts = ", ".join(f"{MODALITY_LABELS.get(m, m) if m else 'all'} n = {len(per[m])}" for m in order)
            lines.append(f"{reason}: {counts}")
        return lines


def draw_flow(flow: PatientFlow, cohort: pd.DataFrame, centers: Mapping[str, Sequence], path: Path,
              simulated: bool) -> Path:
    """Draw the patient flow: enrolled, exclusions, centres, the three sets, fallbacks.

    Parameters
    ----------
    flow : PatientFlow
        The events up to the drawing stage.
    cohort : DataFrame
        The validated cohort (``patient_id``, ``center``, ``split``): the patients that
        passed the cohort stage's checks.
    centers : mapping
        The profile's ``cohort.centers`` (``internal``, ``external``).
    path : Path
        The PNG to write.
    simulated : bool
        Whether the patients are the digital twin's.

    Returns
    -------
    Path
    """
    from ..plots.flow import flow_figure

    kept = cohort[~cohort["patient_id"].astype(str).isin(flow.excluded_ids())]
    internal_centres = [str(c) for c in centers["internal"]]
    external_centres = [str(c) for c in centers["external"]]
    internal = kept["center"].astype(str).isin(internal_centres)
    return flow_figure(
        path,
        n_internal_centres=int(internal.sum()), n_external_centres=int((~internal).sum()),
        internal_label=f"Centre {', '.join(internal_centres)} (internal)",
        external_label=f"Centres {', '.join(external_centres)} (external)",
        n_train=int((kept["split"] == "train").sum()), n_internal=int((kept["split"] == "internal").sum()),
        n_external=int((kept["split"] == "external").sum()), exclusions=flow.exclusion_counts(),
        source_label="Simulated digital-twin patients" if simulated else "Patients in the manifest",
        notes=flow.notes(),
    )
