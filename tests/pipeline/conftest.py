"""Tiny stand-in projects for the pipeline tests: toy stages with their own profile
sections, added to the schema the way docs/adding-a-stage.md says."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat as nbf
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, create_model

from radsurv import schema
from radsurv.pipeline import runner


class ToySection(BaseModel):
    """A toy stage's profile section: one value."""

    model_config = ConfigDict(extra="forbid")
    value: int = 0


def add_sections(monkeypatch, *names: str) -> None:
    """Extend the profile schema with toy sections (as a new stage's section is added
    to ``radsurv.schema.Profile``)."""
    fields = {name: (ToySection, ToySection()) for name in names}
    extended = create_model("ToyProfile", __base__=schema.Profile, **fields)
    monkeypatch.setattr(schema, "Profile", extended)


def write_notebook(path: Path, body: str, stage: str) -> None:
    """A stage notebook as the how-to describes it: one parameters cell, then open_stage."""
    nb = nbf.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells = [
        nbf.v4.new_code_cell(f'stage = "{stage}"\nprofile_path = ""\nbuild_dir = ""\nout_dir = ""\nparams = None',
                             metadata={"tags": ["parameters"]}),
        nbf.v4.new_code_cell("from pathlib import Path\nfrom radsurv.stages import open_stage\n"
                             "ctx = open_stage(stage, profile_path, build_dir, out_dir, params)\n"
                             "p, out = ctx.profile, ctx.out_dir"),
        nbf.v4.new_code_cell(body),
    ]
    nbf.write(nb, str(path))


def minimal_profile(project: Path, **sections) -> dict:
    """The smallest valid profile: a 20-patient manifest cohort without images (which the
    runner validates before any work; toy stages never read it)."""
    rows = ["patient_id,center,dfs_time,dfs_event"] + [f"T{i:02d},1,{10 + i},{i % 2}" for i in range(20)]
    (project / "params" / "toy_manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {"seed": 1, "cohort": {"source": "manifest", "manifest": "toy_manifest.csv", "centers": {"internal": [1]},
                                  "split": {"n_train": 0.5}}, **sections}


class ToyProject:
    """A project folder with the lock file, notebooks/ and params/, whose stages and
    profile sections the test chooses."""

    def __init__(self, root: Path, monkeypatch):
        self.root = root
        self._monkeypatch = monkeypatch

    def use_stages(self, *stages) -> None:
        """Replace the runner's registry by these stages (step 1 of the how-to)."""
        self._monkeypatch.setattr(runner, "STAGES", tuple(stages))

    def add_sections(self, *names: str) -> None:
        """Add toy sections to the profile schema (step 2)."""
        add_sections(self._monkeypatch, *names)

    def notebook(self, stage: str, body: str) -> Path:
        """Write ``notebooks/<stage>.ipynb`` on the template (step 4)."""
        path = self.root / "notebooks" / f"{stage}.ipynb"
        write_notebook(path, body, stage)
        return path

    def profile(self, name: str = "t", **sections) -> Path:
        """Write ``params/<name>.yml``: the minimal profile plus these sections."""
        path = self.root / "params" / f"{name}.yml"
        path.write_text(yaml.safe_dump(minimal_profile(self.root, **sections)), encoding="utf-8")
        return path


@pytest.fixture()
def toy_project(tmp_path, monkeypatch, root) -> ToyProject:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    shutil.copy(root / "requirements.lock", tmp_path / "requirements.lock")
    return ToyProject(tmp_path, monkeypatch)
