"""Profiles: the schema, extends and !override, errors that name the file, key and the
nearest valid key, and the README's own-cohort recipe run verbatim."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from radsurv.config import load_profile, stage_params
from radsurv.exceptions import ProfileError
from radsurv.schema import Profile, field_paths, nearest_key


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def params_dir(tmp_path, root):
    """A project with the repository's profiles (name lookup needs params/ and notebooks/)."""
    shutil.copytree(root / "params", tmp_path / "params")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_the_shipped_profiles_validate_and_fill_every_default(root):
    for name in ("paper", "quick", "null"):
        p = load_profile(name, root)
        assert p["profile"] == name
        # Every schema field is present after validation (defaults in one place).
        for path in field_paths():
            node = p
            for part in path.split("."):
                if node is None:
                    break
                assert part in node, f"{name}: {path} missing"
                node = node[part]
    quick = load_profile("quick", root)
    assert quick["features"]["ring_width_mm"] == 5.0 and quick["segmentation"]["border_margin_mm"] == 10.0
    assert quick["cohort"]["split"]["n_train"] == 104 and isinstance(quick["cohort"]["split"]["n_train"], int)
    assert load_profile("null", root)["cohort"]["twin"]["imaging_signal"] is False


@pytest.mark.parametrize("section, key, expected", [
    ("features", "ring_mm", "features.ring_width_mm"),
    ("features", "ring_with_mm", "features.ring_width_mm"),
    ("segmentation", "polcy", "segmentation.policy"),
    ("cohort", "min_train_event", "cohort.min_train_events"),
])
def test_a_misspelt_key_names_the_file_and_the_nearest_valid_key(params_dir, section, key, expected):
    path = write(params_dir / "params" / "typo.yml", f"extends: quick\n{section}:\n  {key}: 5\n")
    with pytest.raises(ProfileError) as err:
        load_profile(path, params_dir)
    msg = str(err.value)
    assert f"typo.yml: {section}.{key}: unknown key; did you mean '{expected}'?" in msg


def test_nested_misspelling_and_bad_value_are_both_reported(params_dir):
    path = write(params_dir / "params" / "bad.yml",
                 "extends: quick\nfeatures:\n  icc: {treshold: 0.8}\nsegmentation:\n  policy: maybe\n")
    with pytest.raises(ProfileError) as err:
        load_profile(path, params_dir)
    msg = str(err.value)
    assert "2 problem(s)" in msg
    assert "features.icc.treshold: unknown key; did you mean 'features.icc.threshold'?" in msg
    assert re.search(r"segmentation\.policy: .*'reader'.*'exclude'", msg)


def test_keys_checked_against_library_defaults(params_dir):
    """U-Net, baseline, scanner and phenotype keys are checked against the defaults of
    the library that owns them."""
    path = write(params_dir / "params" / "lib.yml",
                 "extends: quick\nsegmentation:\n  us:\n    unet: {epoch: 3}\n"
                 "imaging:\n  phenotype:\n    us: {halo_widht_mm: [1, 2]}\n")
    with pytest.raises(ProfileError) as err:
        load_profile(path, params_dir)
    msg = str(err.value)
    assert "segmentation.us.unet.epoch: unknown key; did you mean 'segmentation.us.unet.epochs'?" in msg
    assert "phenotype.us.halo_widht_mm: unknown key; did you mean 'phenotype.us.halo_width_mm'?" in msg


def test_yaml_booleans_as_categories_are_refused(params_dir):
    path = write(params_dir / "params" / "yn.yml", "extends: quick\ncohort:\n  columns:\n    clinical:\n"
                                                 "      lvi: [no, yes]\n")
    with pytest.raises(ProfileError, match=r"quote the categories"):
        load_profile(path, params_dir)


def test_child_profile_merges_and_override_replaces(params_dir):
    merged = write(params_dir / "params" / "merged.yml",
                   "extends: paper\ncohort:\n  columns:\n    clinical: {age: numeric}\n")
    replaced = write(params_dir / "params" / "replaced.yml",
                     "extends: paper\ncohort:\n  columns: !override\n    clinical: {age: numeric}\n")
    m = load_profile(merged, params_dir)["cohort"]["columns"]
    r = load_profile(replaced, params_dir)["cohort"]["columns"]
    assert len(m["clinical"]) == 16 and len(m["mri"]) == 7      # deep-merged into paper's 23 columns
    assert r == {"clinical": {"age": "numeric"}, "mri": {}}     # replaced whole


def test_override_survives_a_three_level_chain(params_dir):
    """A grandparent must not merge into what a child replaced."""
    write(params_dir / "study" / "base.yml", "extends: quick\ncohort:\n  labels: {age: Age at surgery}\n")
    child = write(params_dir / "study" / "child.yml",
                  "extends: base.yml\ncohort:\n  labels: !override {n_stage: N}\n")
    p = load_profile(child, params_dir)
    assert p["cohort"]["labels"] == {"n_stage": "N"}
    assert p["profile"] == "child"


def test_extends_a_file_beside_it_and_resolves_paths_from_each_file(params_dir):
    base = write(params_dir / "study" / "base.yml", "extends: quick\ncohort:\n  source: manifest\n"
                                                    "  manifest: data/manifest.csv\n")
    child = write(params_dir / "study" / "sub" / "child.yml", "extends: ../base.yml\nseed: 7\n")
    p = load_profile(child, params_dir)
    assert p["seed"] == 7
    assert p["cohort"]["manifest"] == str((base.parent / "data" / "manifest.csv").resolve())


def test_missing_parent_and_cycles_are_named(params_dir):
    a = write(params_dir / "params" / "a.yml", "extends: b\nseed: 1\n")
    write(params_dir / "params" / "b.yml", "extends: a\n")
    with pytest.raises(ProfileError, match="circular 'extends'"):
        load_profile(a, params_dir)
    lonely = write(params_dir / "params" / "lonely.yml", "extends: nowhere\n")
    with pytest.raises(ProfileError, match=r"lonely.yml: extends 'nowhere': unknown profile 'nowhere'"):
        load_profile(lonely, params_dir)


def test_stage_params_are_the_globals_and_the_stage_sections(root):
    p = load_profile("quick", root)
    sp = stage_params(p, ("features",))
    assert set(sp) == {"profile", "seed", "time_unit", "compute", "features"}


def test_compute_defaults_are_the_local_run(root):
    """Without a compute section the run is local on every core, as before the section;
    every stage section's n_jobs is null (compute.n_jobs), the shipped profiles' too, so
    they run on as many workers as before (-1: every core)."""
    for name in ("paper", "quick"):
        p = load_profile(name, root)
        assert p["compute"] == {"n_jobs": -1, "scheduler": None} and "n_jobs" not in p
        assert all(p[s]["n_jobs"] is None for s in ("segmentation", "features", "signatures", "validation",
                                                     "sensitivity")), name   # null: compute.n_jobs
        assert "scheduler" not in p["features"]   # compute.scheduler replaced it
    defaults = Profile.model_fields
    assert all(defaults[s].default_factory().n_jobs is None for s in ("segmentation", "features", "signatures",
                                                                       "validation", "sensitivity"))


def test_the_former_global_n_jobs_still_works_and_means_compute_n_jobs(params_dir):
    """An older profile's top-level n_jobs overrides its parent's compute.n_jobs (the
    validated profile has only compute.n_jobs). A file setting both fails, naming the new
    key."""
    old = write(params_dir / "params" / "old.yml", "extends: quick\nn_jobs: 3\n")
    p = load_profile(old, params_dir)
    assert p["compute"]["n_jobs"] == 3 and "n_jobs" not in p
    new = write(params_dir / "params" / "new.yml", "extends: quick\ncompute: {scheduler: tcp://10.0.0.1:8786}\n")
    p = load_profile(new, params_dir)
    assert p["compute"] == {"n_jobs": -1, "scheduler": "tcp://10.0.0.1:8786"}
    both = write(params_dir / "params" / "both.yml", "extends: quick\nn_jobs: 3\ncompute: {n_jobs: 2}\n")
    with pytest.raises(ProfileError, match=r"both.yml: sets both 'n_jobs' and 'compute.n_jobs'.*keep only "
                                           r"'compute.n_jobs'"):
        load_profile(both, params_dir)
    assert load_profile("quick", params_dir, overrides={"n_jobs": 2})["compute"]["n_jobs"] == 2


def test_the_former_features_scheduler_is_refused_naming_compute_scheduler(params_dir):
    """features.scheduler ran only 02 on a cluster; compute.scheduler, which replaced it,
    runs every heavy loop there: an old profile (or override) setting an address fails
    naming the new key; null, the old default, is dropped."""
    old = write(params_dir / "params" / "old.yml", "extends: quick\nfeatures: {scheduler: tcp://10.0.0.1:8786}\n")
    with pytest.raises(ProfileError, match=r"old.yml sets 'features.scheduler', which 'compute.scheduler' replaced: "
                                           r"set 'compute.scheduler' instead"):
        load_profile(old, params_dir)
    with pytest.raises(ProfileError, match=r"the override sets 'features.scheduler'.*set 'compute.scheduler'"):
        load_profile("quick", params_dir, overrides={"features.scheduler": "tcp://10.0.0.1:8786"})
    null = write(params_dir / "params" / "null_scheduler.yml",
                 "extends: quick\nfeatures: {scheduler: null, n_jobs: 2}\n")
    p = load_profile(null, params_dir)
    assert "scheduler" not in p["features"] and p["features"]["n_jobs"] == 2 and p["compute"]["scheduler"] is None


def test_a_scheduler_must_be_an_address(params_dir):
    bad = write(params_dir / "params" / "bad.yml", "extends: quick\ncompute: {scheduler: 'tcp://a b'}\n")
    with pytest.raises(ProfileError, match=r"compute.scheduler: expected a Dask scheduler address"):
        load_profile(bad, params_dir)
    typo = write(params_dir / "params" / "typo2.yml", "extends: quick\ncompute: {schedular: tcp://a:1}\n")
    with pytest.raises(ProfileError, match=r"compute.schedular: unknown key; did you mean 'compute.scheduler'"):
        load_profile(typo, params_dir)


def test_nearest_key():
    assert nearest_key("ring_mm", ["ring_width_mm", "icc"]) == "ring_width_mm"
    assert nearest_key("zzz", ["ring_width_mm", "icc"]) is None


def test_every_schema_field_is_documented():
    """Section fields carry a description or are self-explanatory leaves of a typed
    sub-model; every section model has a docstring."""
    for name, field in Profile.model_fields.items():
        assert field.description or (field.annotation.__doc__ and field.annotation.__doc__.strip()), name


def readme_recipe(root: Path) -> tuple[str, list[str]]:
    """The profile text and the two commands of the README's own-cohort section."""
    text = (root / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Running on your own cohort"):]
    section = section[:section.index("\n## ", 5)]
    profile = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    profile = "\n".join(line[3:] if line.startswith("   ") else line for line in profile.splitlines())
    commands = re.findall(r"`(\.venv/bin/radsurv [^`]+)`", section)
    return profile, commands


def test_readme_own_cohort_recipe_verbatim(root, tmp_path, monkeypatch, capsys):
    """The README's recipe, as written: a manifest with only the columns the profile
    declares passes `validate` and the cohort stage."""
    from radsurv.cli import main

    profile_text, commands = readme_recipe(root)
    assert [c.split()[1] for c in commands] == ["validate", "run"]
    proj = tmp_path / "project"
    for name in ("notebooks", "params"):
        shutil.copytree(root / name, proj / name)
    for name in ("requirements.lock", "index.qmd", "_quarto.yml", "references.bib"):
        shutil.copy(root / name, proj / name)
    study = proj / "study"
    write(study / "mystudy.yml", profile_text)
    from radsurv.config import _ProfileLoader

    declared = yaml.load(profile_text, Loader=_ProfileLoader)["cohort"]
    centres = declared["centers"]["internal"] + declared["centers"]["external"]
    rows = ["patient_id,center,dfs_time,dfs_event,age,grade"]
    for i in range(300):
        rows.append(f"H{i:04d},{centres[i % len(centres)]},{200 + 37 * i},{int(i % 3 == 0)},{40 + i % 30},"
                    f"G{1 + i % 3}")
    write(study / "manifest.csv", "\n".join(rows) + "\n")
    monkeypatch.chdir(study)
    validate = commands[0].split()[1:]
    assert main(validate) == 0, capsys.readouterr().err
    assert "300 patients, no problems found" in capsys.readouterr().out
    run = commands[1].split()[1:] + ["--stage", "00_cohort", "--no-render"]
    assert main(run) == 0, capsys.readouterr()
    cohort = (proj / "build" / "mystudy" / "00_cohort" / "cohort.csv").read_text(encoding="utf-8")
    assert cohort.splitlines()[0].startswith("patient_id,center,dfs_time,dfs_event,age,grade")
