"""Run profiles: the parameters of one build, read from ``params/<profile>.yml``.

A profile may ``extends:`` another one; the child's mapping is deep-merged over the
parent's, so ``quick.yml`` and ``null.yml`` state only what differs from ``paper.yml``.
Each stage reads its own section (``cohort``, ``segmentation``...) plus the global
keys, and the pipeline re-runs a stage only when *that* section changes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

#: Keys that every stage sees (the rest of the file is split into stage sections).
GLOBAL_KEYS = ("profile", "seed", "time_unit", "n_jobs")


class ProfileError(ValueError):
    """A profile file is missing, malformed or inconsistent."""


def project_root() -> Path:
    """The repository root: the nearest parent holding ``params/`` and ``notebooks/``."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "params").is_dir() and (candidate / "notebooks").is_dir():
            return candidate
    # Installed in editable mode from a checkout: src/radsurv/config.py -> root.
    fallback = Path(__file__).resolve().parents[2]
    if (fallback / "params").is_dir():
        return fallback
    raise ProfileError(
        "cannot find the radsurv project root (a folder with params/ and notebooks/); "
        "run from inside the repository"
    )


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict:
    """Return ``base`` with ``override`` merged in (mappings recursively, others replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def profile_path(profile_or_path: str | Path, root: Path | None = None) -> Path:
    """Resolve a profile name (``quick``) or a path to a YAML file."""
    p = Path(profile_or_path)
    if p.suffix in (".yml", ".yaml"):
        return p.resolve()
    root = root or project_root()
    path = root / "params" / f"{profile_or_path}.yml"
    if not path.is_file():
        known = sorted(q.stem for q in (root / "params").glob("*.yml") if not q.stem.startswith("radiomics"))
        raise ProfileError(f"unknown profile {profile_or_path!r}: no {path}; known profiles: {', '.join(known)}")
    return path


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping at the top level")
    return data


def load_profile(profile_or_path: str | Path, root: Path | None = None) -> dict:
    """Load a profile with its ``extends`` chain resolved.

    Relative paths inside the file (``cohort.manifest``) are made absolute against
    the folder of the file that declared them, so a user's profile can live next to
    their data.
    """
    path = profile_path(profile_or_path, root)
    chain: list[Path] = []
    data: dict = {}
    current: Path | None = path
    while current is not None:
        if current in chain:
            raise ProfileError(f"{current}: circular 'extends'")
        chain.append(current)
        layer = _read_yaml(current)
        _absolutise_paths(layer, current.parent)
        parent = layer.pop("extends", None)
        data = deep_merge(layer, data)
        current = profile_path(parent, root) if parent else None
        if current is not None and not current.is_file():
            raise ProfileError(f"{chain[-1]}: extends unknown profile {parent!r}")
    data.setdefault("profile", path.stem)
    # The profile name is the file's own name unless it says otherwise explicitly.
    if "profile" not in _read_yaml(path):
        data["profile"] = path.stem
    for key in ("seed",):
        if key not in data:
            raise ProfileError(f"{path}: missing required key {key!r}")
    return data


def _absolutise_paths(layer: dict, base: Path) -> None:
    cohort = layer.get("cohort")
    if isinstance(cohort, dict) and cohort.get("manifest"):
        m = Path(cohort["manifest"])
        cohort["manifest"] = str(m if m.is_absolute() else (base / m).resolve())


def stage_params(profile: Mapping[str, Any], sections: tuple[str, ...] | str) -> dict:
    """The parameters one stage sees: the global keys plus its own sections."""
    if isinstance(sections, str):
        sections = (sections,)
    out = {k: copy.deepcopy(profile[k]) for k in GLOBAL_KEYS if k in profile}
    for section in sections:
        out[section] = copy.deepcopy(profile.get(section, {}))
    return out
