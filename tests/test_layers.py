"""The package's layers (docs/design.md, "Layers"): every module imports only from its
own layer or the layers below it, so the manuscript tools never import the pipeline,
a library never imports a stage, and nothing imports the command line. Within the
stages' layer no stage module imports another, and neither the pipeline nor the stage
kit imports a stage module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from radsurv.pipeline.deps import _imports_of_source

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "radsurv"

#: Module (or package prefix) -> layer, most specific first. Mirrors docs/design.md.
LAYERS: list[tuple[str, int]] = [
    ("radsurv.cli", 6),
    ("radsurv.pipeline", 5),
    ("radsurv.cohort.stage", 4),
    ("radsurv.segment.stage", 4),
    ("radsurv.features.stage", 4),
    ("radsurv.signatures.stage", 4),
    ("radsurv.models.stage", 4),
    ("radsurv.validation.stage", 4),
    ("radsurv.sensitivity.stage", 4),
    ("radsurv.stages", 3),
    ("radsurv.schema", 2),
    ("radsurv.config", 2),
    ("radsurv.stats", 1),
    ("radsurv.imaging", 1),
    ("radsurv.roi", 1),
    ("radsurv.plots", 1),
    ("radsurv.results", 1),
    ("radsurv.report", 1),
    ("radsurv.preconditions", 1),
    ("radsurv.manuscript", 1),
    ("radsurv.cohort", 1),
    ("radsurv.segment", 1),
    ("radsurv.features", 1),
    ("radsurv.signatures", 1),
    ("radsurv.models", 1),
    ("radsurv.validation", 1),
    ("radsurv.sensitivity", 1),
    ("radsurv.exceptions", 0),
    ("radsurv.labels", 0),
    ("radsurv.seeds", 0),
    ("radsurv.compute", 0),
    ("radsurv", 0),
]


def layer_of(module: str) -> int:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    raise AssertionError(f"{module} is in no layer: add it to docs/design.md and to LAYERS")


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _resolve(name: str) -> str | None:
    """The module an imported name refers to (``radsurv.stats.harrell_c`` -> ``radsurv.stats``)."""
    parts = name.split(".")
    while parts:
        base = PACKAGE.parent.joinpath(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return None


@pytest.mark.parametrize("module, path", modules(), ids=[m for m, _ in modules()])
def test_imports_go_down_the_layers(module, path):
    is_package = path.name == "__init__.py"
    own = layer_of(module)
    upward = []
    for name in _imports_of_source(path.read_text(encoding="utf-8"), module, is_package):
        target = _resolve(name.rstrip(".*"))
        if target is None or target == module:
            continue
        if layer_of(target) > own:
            upward.append(f"{target} (layer {layer_of(target)})")
    assert not upward, f"{module} (layer {own}) imports upward: {sorted(set(upward))}"


#: A stage module: ``radsurv.<package>.stage`` (not the stage kit, ``radsurv.stages``).
STAGE_MODULE = re.compile(r"radsurv\.[a-z_]+\.stage")


def is_stage_module(module: str) -> bool:
    return STAGE_MODULE.fullmatch(module) is not None


def stage_modules_imported(module: str, path: Path) -> set[str]:
    """The stage modules that ``module`` imports (lazy imports inside functions too)."""
    is_package = path.name == "__init__.py"
    targets = {_resolve(name.rstrip(".*"))
               for name in _imports_of_source(path.read_text(encoding="utf-8"), module, is_package)}
    return {t for t in targets if t is not None and t != module and is_stage_module(t)}


def test_the_stage_modules_are_the_stages_layer():
    stages = {m for m, _ in modules() if is_stage_module(m)}
    assert stages == {prefix for prefix, layer in LAYERS if layer == 4}
    assert not any(is_stage_module(m) for m, _ in modules() if m == "radsurv.stages" or m.startswith("radsurv.stages."))


KEPT_APART = [(m, p) for m, p in modules()
              if is_stage_module(m) or m.split(".")[:2] in (["radsurv", "pipeline"], ["radsurv", "stages"])]


@pytest.mark.parametrize("module, path", KEPT_APART, ids=[m for m, _ in KEPT_APART])
def test_no_stage_module_imports_another_and_the_pipeline_and_kit_import_none(module, path):
    """What two stages share lives below them, in the typed readers (``radsurv.stages.readers``)
    or a library module; the pipeline runs the stages' notebooks and imports none of them.
    So a stage can be changed without touching another, and the pipeline's inputs of a
    stage (:mod:`radsurv.pipeline.deps`) are only what its notebook imports."""
    imported = stage_modules_imported(module, path)
    assert not imported, f"{module} imports the stage module(s) {sorted(imported)}: move what they share " \
                         "to radsurv.stages.readers or a library module"


def test_the_readers_import_only_layer_0():
    """Every stage imports the readers, so whatever they import is an input of every stage
    (radsurv.pipeline.deps): a library module there would re-run every stage when it changes."""
    path = PACKAGE / "stages" / "readers.py"
    imported = {_resolve(n.rstrip(".*")) for n in _imports_of_source(path.read_text(encoding="utf-8"),
                                                                      "radsurv.stages.readers", False)}
    assert {m: layer_of(m) for m in imported if m is not None and layer_of(m) > 0} == {}


def test_the_layer_table_matches_the_design_doc(root):
    doc = (root / "docs" / "design.md").read_text(encoding="utf-8")
    table = doc[doc.index("### Layers"):doc.index("### Statistics")]
    for prefix, layer in LAYERS:
        if prefix == "radsurv":
            continue
        row = next((line for line in table.splitlines() if f"`{prefix}`" in line), None)
        assert row is not None, f"{prefix} is not in docs/design.md's layer table"
        assert row.lstrip("| ").startswith(str(layer)), (prefix, row)


def test_no_library_module_imports_lifelines_pingouin_or_sksurv():
    """Numbers the paper reports come from radsurv.stats (matched to R)."""
    for module, path in modules():
        text = path.read_text(encoding="utf-8")
        for lib in ("lifelines", "pingouin", "sksurv"):
            assert f"import {lib}" not in text and f"from {lib}" not in text, f"{module} imports {lib}"
