"""Repository invariants: the README's two commands, CI calling the test command,
environment.yml mirroring the lock, notebooks without outputs, stages registered."""

from __future__ import annotations

import json
import re

import yaml

from radsurv.stages import STAGES


def test_readme_starts_with_exactly_two_commands(root):
    text = (root / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make paper", "make test"]
    # The first code block comes before any other section.
    assert text.index("```bash") < text.index("\n## ")


def test_ci_runs_the_readme_test_command(root):
    ci = (root / ".ci/run").read_text(encoding="utf-8")
    assert re.search(r"^make test\b", ci, re.M)
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    # `make test` installs the environment itself before running pytest.
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    assert "-r requirements.lock" in makefile


def test_environment_yml_mirrors_the_lock(root):
    lock = sorted(line.strip() for line in (root / "requirements.lock").read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.startswith("#"))
    env = yaml.safe_load((root / "environment.yml").read_text(encoding="utf-8"))
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    # Binder gets the CPU build of the locked torch from PyTorch's index (the PyPI wheel
    # would bring the CUDA libraries); everything else is the lock, pin for pin
    options = [p for p in pip if p.startswith("--")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    torch = next(line for line in lock if line.startswith("torch=="))
    assert f"{torch}+cpu" in pip
    assert sorted(p for p in pip if not p.startswith("--") and p != f"{torch}+cpu") == sorted(
        line for line in lock if line != torch)
    assert not any(line.startswith(("nvidia-", "triton==")) for line in lock)   # no CUDA stack in the lock
    assert "python=3.11" in deps and any(str(d).startswith("quarto") for d in deps)
    assert "conda-forge" in env["channels"]


def test_lock_pins_every_package_exactly(root):
    for line in (root / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line.strip()), line


def test_notebooks_are_committed_without_outputs(root):
    for nb_path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, nb_path.name
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{nb_path.name}: needs exactly one cell tagged 'parameters'"


def test_every_stage_notebook_opens_its_stage_with_the_kit(root):
    """One parameters cell with the runner's five names, the stage's own name, and
    open_stage as the first call (docs/adding-a-stage.md, step 4)."""
    for stage in STAGES:
        nb = json.loads((root / stage.notebook).read_text(encoding="utf-8"))
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        params = code[0]
        names = re.findall(r"^(\w+) = ", params, re.M)
        assert names[:5] == ["stage", "profile_path", "build_dir", "out_dir", "params"], stage.name
        assert f'stage = "{stage.name}"' in params and "params = None" in params
        # run by hand, the notebook finds the project and writes to build/<profile>/explore/
        assert 'profile_path = "quick"' in params and "build_dir = None" in params and "out_dir = None" in params
        # one "Try it" value per notebook, None by default (the pipeline follows the profile), and
        # each handed to open_stage under a key of the stage's own sections
        try_names = names[5:]
        assert len(try_names) == 1, stage.name
        assert all(re.search(rf"^{n} = None\b", params, re.M) for n in try_names), stage.name
        call = re.search(r"ctx = open_stage\(stage, profile_path, build_dir, out_dir, params, try_it=\{(.*)\}\)",
                         code[1])
        assert call, stage.name
        keys = dict(re.findall(r'"([\w.]+)": (\w+)', call.group(1)))
        assert sorted(keys.values()) == sorted(try_names), stage.name
        assert all(k.split(".")[0] in stage.sections for k in keys), stage.name
        # Steps are timed through the kit, not by hand.
        assert not any("perf_counter" in c or "record_step" in c for c in code), stage.name


def test_readme_layout_matches_the_tree(root):
    """Every package and top-level module of src/radsurv, and every top-level folder of
    the repository, is in the README's Layout."""
    text = (root / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):]
    layout = layout[:layout.index("```", layout.index("```") + 3)]
    src = root / "src" / "radsurv"
    names = [p.name + "/" for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    names += [p.name for p in src.glob("*.py") if p.name not in ("__init__.py", "cli.py")]
    for name in names:
        assert re.search(rf"^\s+{re.escape(name)}\s", layout, re.M), f"README Layout lacks src/radsurv/{name}"
    tracked_dirs = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} - {
        "build", "figures", "tables", "texts", "executed", "_manuscript", "src", "__pycache__"}
    for folder in sorted(tracked_dirs):
        if (root / ".git").exists() and not any((root / folder).rglob("*")):
            continue
        assert re.search(rf"^{re.escape(folder)}/", layout, re.M), f"README Layout lacks {folder}/"
