"""Publish one profile's artefacts where the manuscript reads them, then render.

``index.qmd`` reads fixed paths at the project root (all git-ignored):

* ``figures/<stage>/fig-*.png``, ``tables/<stage>/*.md``, ``texts/<stage>/*.md``:
  copies of the figures, tables and texts each stage declares
  (:mod:`radsurv.stages.registry`), namespaced by stage so no stage can overwrite
  another's; the texts declared ``rendered`` are written here from the stages'
  variables by :mod:`radsurv.manuscript`;
* ``_variables.yml``: every stage's ``variables.yml`` merged (a variable set twice to
  different values is an error), including each stage's ``provenance`` line, every
  value written as a quoted string;
* ``executed/<stage>.ipynb``: the executed notebooks of the profile, which Quarto lists
  as the manuscript's notebooks and every "Source:" line links to;
* ``tables/run/``: the run's computational cost (from ``timings.json``) and software
  versions (from ``requirements.lock``), :mod:`radsurv.report.run_tables`, and the
  reporting checklists (TRIPOD+AI; CLEAR's segmentation, pre-processing and extraction
  items from the PyRadiomics parameter files), :mod:`radsurv.report.checklist`.

So the paper always shows the profile that was published last, and says which in its
front matter.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from ..config import load_profile
from ..exceptions import ManuscriptError
from ..manuscript import abstract_variables, render_text
from ..report.documents import (
    BUNDLE_NAME,
    FORMATS,
    BundleFile,
    document_epoch,
    manuscript_files,
    parse_formats,
    write_bundle,
)
from ..report.qmd import Manuscript, bibliography_paths, load_manuscript, ordered_problems
from ..report.render import RenderResult, render_manuscript
from ..report.checklist import checklist_table, clear_checklist, coverage, tripod_ai_checklist
from ..report.run_tables import pinned_versions, write_run_tables
from ..report.tables import write_markdown_table
from ..report.variables import as_strings, merge_variables, write_variables
from ..stages.registry import PUBLISHED_KINDS, STAGES, Stage

__all__ = ["EXECUTED", "VARIABLES", "last_render", "publish", "publish_and_render", "published_profile",
           "write_submission_bundle"]

VARIABLES = "_variables.yml"
#: Where the executed notebooks are published (and, beside the preview, rendered).
EXECUTED = "executed"
#: Files of the published folders that are part of the repository, never removed.
_KEEP = {".gitkeep", "README.md"}


def published_profile(root: Path) -> str | None:
    """The profile whose artefacts are currently published at the project root."""
    path = Path(root) / VARIABLES
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return None
    return (data.get("run") or {}).get("profile")


def _clear(folder: Path) -> None:
    """Empty a published folder, keeping the files the repository tracks in it."""
    folder.mkdir(exist_ok=True)
    for item in folder.iterdir():
        if item.name in _KEEP:
            continue
        if item.is_dir():
            shutil.rmtree(item)
        else:
            item.unlink()


FEATURES_STAGE = "02_features"
TRIPOD_TABLE = "run/tripod_ai_checklist.md"
CLEAR_TABLE = "run/clear_checklist.md"


def write_checklists(root: Path, profile: Mapping[str, Any], variables: Mapping[str, Any]) -> dict:
    """Write the TRIPOD+AI and CLEAR tables for this run; return their ``checklist`` variables.

    The CLEAR answers are read from the parameter files the features stage used (with
    the profile's ``image_types``), for the modalities the cohort has.
    """
    from ..features.extract import extraction_params, read_params

    root = Path(root)
    own = (profile.get("cohort") or {}).get("source") == "manifest"
    settings = {}
    for modality, params in extraction_params(profile["features"], root).items():
        n_images = ((variables.get("imaging") or {}).get(f"n_{modality}"))
        if n_images is not None and int(n_images) == 0:
            continue  # a modality the cohort does not have
        settings[modality] = read_params(params)
    version = pinned_versions(root / "requirements.lock").get("pyradiomics-bhklab", "unpinned")
    tripod = tripod_ai_checklist(own_cohort=own)
    clear = clear_checklist(settings, segmentation=profile.get("segmentation") or {},
                            features=profile["features"], variables=variables,
                            extractor=f"PyRadiomics (pyradiomics-bhklab {version})", own_cohort=own)
    source = f"`src/radsurv/report/checklists/tripod_ai.yml` and the run's profile `{profile['profile']}`"
    write_markdown_table(
        checklist_table(tripod), root / "tables" / TRIPOD_TABLE, label="tripod-ai", source=source,
        caption="TRIPOD+AI checklist [@collins2024]: each item in short (the statement has the full wording), "
                "where this paper answers it, and what the pipeline cannot know, left for the authors.")
    write_markdown_table(
        checklist_table(clear, answer="This run"), root / "tables" / CLEAR_TABLE, label="clear",
        source=", ".join(f"`{p}`" for p in profile["features"]["params"].values())
        + f" and profile `{profile['profile']}`",
        caption="CLEAR items on segmentation, image pre-processing, feature extraction and segmentation "
                "reliability [@kocak2023], answered with the values this run used.")
    t, c = coverage(tripod), coverage(clear)
    return {"checklist": {
        "tripod_n": t["total"], "tripod_reported": t["reported"], "tripod_partly": t["partly"],
        "tripod_na": t["not_applicable"], "tripod_authors": t["authors"],
        "clear_n": c["total"], "clear_reported": c["reported"], "clear_authors": c["authors"]}}


def publish(root: Path, build_dir: Path, stages: Sequence[Stage] = STAGES,
            profile: Mapping[str, Any] | None = None) -> dict:
    """Copy every finished stage's declared figures, tables, texts and executed notebook
    to the project root and merge the variables.

    Parameters
    ----------
    root : Path
        The project root.
    build_dir : Path
        ``build/<profile>``.
    stages : sequence of Stage
        The registry (default: the study's stages).
    profile : mapping, optional
        The loaded profile (default: the one named like ``build_dir``), for the checklists.

    Returns
    -------
    dict
        The merged variables (also written to ``_variables.yml``).
    """
    root, build_dir = Path(root), Path(build_dir)
    # Remove what an earlier publication left, so an artefact of another profile (or a
    # stage that no longer writes it) can never be shown by mistake.
    for folder in (*PUBLISHED_KINDS.values(), EXECUTED):
        _clear(root / folder)
    layers = []
    rendered = []
    for stage in stages:
        sdir = build_dir / stage.name
        if not sdir.is_dir():
            continue
        for artefact in stage.published():
            if artefact.rendered:
                rendered.append((stage.name, artefact.name))
                continue
            src = sdir / artefact.name
            if src.is_file():
                dest = root / PUBLISHED_KINDS[artefact.kind] / stage.name / artefact.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
        executed = sdir / Path(stage.notebook).name
        if executed.is_file():
            shutil.copy2(executed, root / EXECUTED / executed.name)
        var_file = sdir / "variables.yml"
        if var_file.is_file():
            layers.append(yaml.safe_load(var_file.read_text(encoding="utf-8")) or {})
    write_run_tables(root, build_dir, {s.name: s.title.split(":")[0] for s in stages},
                     build_dir.name)
    merged = merge_variables(layers)
    # the abstract's Results: front matter cannot include a text file, so they are a variable
    merged = merge_variables([merged, abstract_variables(merged)])
    if rendered:
        # The prose, written from the variables now: a wording edit re-runs no stage.
        if profile is None:
            profile = load_profile(build_dir.name, root)
        for stage_name, name in rendered:
            dest = root / PUBLISHED_KINDS["text"] / stage_name / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(render_text(stage_name, name, merged, profile))
    # The checklists answer from the features stage's parameter files: written when the
    # registry has that stage and this build ran it (a project with other stages has none).
    if any(s.name == FEATURES_STAGE for s in stages) and (build_dir / FEATURES_STAGE).is_dir():
        if profile is None:
            profile = load_profile(build_dir.name, root)
        merged = merge_variables([merged, write_checklists(root, profile, merged)])
    # strings only: pandoc would reformat an unquoted number (0.01 -> 1.0e-2)
    write_variables(as_strings(merged), root / VARIABLES)
    return merged


def publish_and_render(root: Path, build_dir: Path, profile: str, out_dir: Path, renderer: str = "auto",
                       stages: Sequence[Stage] = STAGES, profile_config: Mapping[str, Any] | None = None,
                       formats: str | Sequence[str] | None = FORMATS) -> RenderResult:
    """Publish ``build_dir``'s artefacts, check that the manuscript resolves, render it.

    With the pandoc preview, the executed notebooks are rendered beside it
    (``<out_dir>/executed/<stage>-preview.html``, the names Quarto gives its notebook
    pages), so the "Source:" links of the figures and tables open them; the paper is
    written in ``formats`` (``index.html``, ``index.docx``, ``index.pdf``; a format not
    asked for is removed, so no stale copy stays beside the new ones), and the submission
    bundle (:func:`write_submission_bundle`) gathers them with the figures, tables and
    executed notebooks.

    Raises
    ------
    ManuscriptError
        When an include, variable, cross-reference, citation or image does not resolve.
    """
    from ..report.preview import render_notebook_preview

    wanted = parse_formats(formats)
    publish(root, build_dir, stages, profile=profile_config)
    # read once: checked here, rendered in every format and bundled from the same reading
    m = load_manuscript(Path(root).resolve())
    problems = ordered_problems(m)
    if problems:
        raise ManuscriptError(problems)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = render_manuscript(Path(root), out_dir, renderer=renderer, formats=wanted, manuscript=m, check=False)
    record = {"profile": profile, "renderer": result.renderer, "output": str(result.output)}
    if result.renderer == "preview":
        for fmt in FORMATS:
            if fmt not in wanted:
                (out_dir / f"index.{fmt}").unlink(missing_ok=True)
        pages = out_dir / EXECUTED
        if pages.exists():
            shutil.rmtree(pages)
        if "html" in wanted:
            for notebook in sorted((Path(root) / EXECUTED).glob("*.ipynb")):
                render_notebook_preview(notebook, pages / f"{notebook.stem}-preview.html")
        bundle = write_submission_bundle(m, out_dir, result.outputs, profile)
        result = dataclasses.replace(result, outputs={**result.outputs, "bundle": bundle})
        record["outputs"] = {k: str(v) for k, v in result.outputs.items()}
    (out_dir / ".rendered").write_text(json.dumps(record, indent=1) + "\n")
    return result


def write_submission_bundle(m: Manuscript, out_dir: Path, outputs: Mapping[str, Path], profile: str,
                            output: Path | None = None) -> Path:
    """The submission bundle of a preview render of the manuscript ``m`` into ``out_dir``:
    ``<out_dir>/submission.zip`` (or ``output``).

    It holds the article (``index.html``/``.docx``/``.pdf``, as rendered), the notebook
    pages the HTML links to (``executed/*.html``), the figures and tables the manuscript
    shows (at their paths in the project, ``figures/<stage>/...``, ``tables/<stage>/...``),
    the executed notebooks as supplementary material (``notebooks/<stage>.ipynb``, the
    names the captions give), the bibliography and citation style, and ``manifest.json``
    (every other file with its role, size and SHA-256). Deterministic
    (:func:`radsurv.report.documents.write_bundle`): the same render gives the same bytes.
    """
    root, out_dir = m.project_root, Path(out_dir)
    files = [BundleFile(path, path.name, f"article ({fmt})") for fmt, path in outputs.items()]
    if "html" in outputs:
        files += [BundleFile(p, f"{EXECUTED}/{p.name}", "notebook page (HTML, linked from the article)")
                  for p in sorted((out_dir / EXECUTED).glob("*.html"))]
    files += manuscript_files(m)
    files += [BundleFile(p, f"notebooks/{p.name}", "supplementary notebook (executed)")
              for p in sorted((root / EXECUTED).glob("*.ipynb"))]
    base = m.qmd_path.parent
    for bib in bibliography_paths(m.metadata, m.project_config, base):
        if bib.is_file():
            files.append(BundleFile(bib, bib.name, "bibliography"))
    csl = m.option("csl")
    if csl and (base / str(csl)).is_file():
        files.append(BundleFile(base / str(csl), Path(str(csl)).name, "citation style (CSL)"))
    title = m.metadata.get("title")
    return write_bundle(output or out_dir / BUNDLE_NAME, files, title=str(title) if title else "",
                        epoch=document_epoch(m),
                        info={"profile": profile, "renderer": "preview (pandoc; typst for the PDF)"})


def last_render(out_dir: Path) -> dict | None:
    """What the last render of a build wrote (``renderer``, ``output``), or None."""
    path = Path(out_dir) / ".rendered"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
