"""Run profiles: the parameters of one build, read from ``params/<profile>.yml``.

A profile may ``extends:`` another one: a profile name in ``params/`` (``paper``) or a
path to a YAML file, relative to the extending file. The child's mappings are
deep-merged over the parent's, so ``quick.yml`` and ``null.yml`` state only what
differs from ``paper.yml``. A child replaces a whole mapping instead of merging into
it with the ``!override`` tag (the convention of Docker Compose files)::

    extends: paper
    cohort:
      columns: !override          # only these columns, not paper.yml's 23
        clinical: {age: numeric, n_stage: [N0, N1, N2, N3]}
        mri: {}

The merged profile is validated against :mod:`radsurv.schema` before any work: an
unknown key fails naming the file that holds it and the nearest valid key, and every
default is filled in, so stages read ``profile["features"]["ring_width_mm"]``, never
``.get(key, default)``. Each stage reads its own sections plus the global keys
(:func:`stage_params`), and the pipeline re-runs a stage only when those change (all but
``compute``, :data:`PLACEMENT_KEYS`: where the work runs is not what it computes).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from .exceptions import ProfileError
from .schema import ProfileSchemaError, validate_profile

__all__ = ["GLOBAL_KEYS", "PLACEMENT_KEYS", "ProfileError", "deep_merge", "load_profile", "profile_path",
           "project_root", "stage_params"]

#: Keys that every stage sees (the rest of the file is split into stage sections): the
#: scalars, and ``compute`` (where the heavy loops run, :mod:`radsurv.compute`).
GLOBAL_KEYS = ("profile", "seed", "time_unit", "compute")

#: Keys every stage sees that say where its work runs, not what it computes (each task
#: draws from its own random stream): the runner leaves them out of a stage's inputs, so
#: changing the workers or the scheduler re-runs nothing.
PLACEMENT_KEYS = ("compute",)

#: A top-level key of older profiles -> its key now, with the same meaning (moved in each
#: file before merging, so that a child's old key still overrides its parent's new one).
RENAMED_KEYS = {"n_jobs": "compute.n_jobs"}

#: A key of older profiles -> (the key that replaced it with a wider meaning, how it is
#: wider): a file (or an override) that sets it fails naming the new key; null, the old
#: default, is dropped. ``features.scheduler`` ran only 02 on a cluster; ``compute.scheduler``
#: runs every heavy loop there, which is not what the old key asked for, so it is not moved.
REPLACED_KEYS = {"features.scheduler": ("compute.scheduler", "it runs 01's inference, 02's extraction, 05's "
                                                             "bootstrap and 06's loops on that Dask scheduler, not "
                                                             "02's alone")}


class Override(dict):
    """A mapping tagged ``!override``: it replaces the parent's mapping instead of merging."""


class _ProfileLoader(yaml.SafeLoader):
    """Safe YAML loader that understands ``!override``."""


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(None, None, "!override applies to a mapping", node.start_mark)
    return Override(loader.construct_mapping(node, deep=True))


_ProfileLoader.add_constructor("!override", _construct_override)


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
    """Return ``base`` with ``override`` merged in: mappings recursively, other values
    replaced, and a mapping tagged ``!override`` (:class:`Override`) replacing whole."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and not isinstance(value, Override) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            # The !override marker stays until the whole chain is merged (a grandparent
            # must not merge into what a child replaced); load_profile drops it.
            out[key] = copy.deepcopy(value)
    return out


def _plain(value: Any) -> Any:
    """Drop the :class:`Override` marker (and nested ones) once merged."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def profile_path(profile_or_path: str | Path, root: Path | None = None, relative_to: Path | None = None) -> Path:
    """Resolve a profile name (``quick``) or a path to a YAML file.

    Parameters
    ----------
    profile_or_path : str or Path
        A name of a file in ``params/`` or a path ending in ``.yml``/``.yaml``.
    root : Path, optional
        The project root (default: :func:`project_root`).
    relative_to : Path, optional
        Folder a relative path is resolved from (the extending file's folder); default
        the current directory.
    """
    p = Path(profile_or_path)
    if p.suffix in (".yml", ".yaml"):
        if not p.is_absolute() and relative_to is not None:
            p = relative_to / p
        if not p.is_file():
            raise ProfileError(f"profile file {p.resolve()} does not exist")
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
            data = yaml.load(fh, Loader=_ProfileLoader) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping at the top level")
    return data


def load_profile(profile_or_path: str | Path, root: Path | None = None,
                 overrides: Mapping[str, Any] | None = None) -> dict:
    """Load a profile with its ``extends`` chain resolved and validated.

    Relative paths inside the file (``cohort.manifest``) are made absolute against
    the folder of the file that declared them, so a user's profile can live next to
    their data.

    Parameters
    ----------
    profile_or_path : str or Path
        A profile name in ``params/`` or a path to a YAML file.
    root : Path, optional
        The project root.
    overrides : mapping, optional
        Dotted keys and values set over the merged file before validation
        (``{"signatures.lambda_rule": "lambda_1se"}``): a notebook's "Try it" values.
        They are validated like the file's own keys; a misspelt one fails with its
        nearest valid key.

    Returns
    -------
    dict
        The whole profile, every default of :mod:`radsurv.schema` filled in.

    Raises
    ------
    ProfileError
        For a missing file, invalid YAML, a circular ``extends``, an unknown key (with
        the file holding it and the nearest valid key) or an invalid value.
    """
    path = profile_path(profile_or_path, root)
    chain: list[Path] = []
    layers: list[tuple[Path, dict]] = []
    data: dict = {}
    current: Path | None = path
    while current is not None:
        if current in chain:
            raise ProfileError(f"{current}: circular 'extends'")
        chain.append(current)
        layer = _read_yaml(current)
        _rename_keys(layer, current)
        _absolutise_paths(layer, current.parent)
        parent = layer.pop("extends", None)
        layers.append((current, layer))
        data = deep_merge(layer, data)
        if parent is not None:
            try:
                current = profile_path(parent, root, relative_to=current.parent)
            except ProfileError as exc:
                raise ProfileError(f"{current}: extends {parent!r}: {exc}") from None
        else:
            current = None
    # The profile name is the file's own name unless the file says otherwise.
    if "profile" not in layers[0][1]:
        data["profile"] = path.stem
    for key, value in (overrides or {}).items():
        if key in REPLACED_KEYS and value is not None:
            raise ProfileError(_replaced(key, "the override"))
        if key not in REPLACED_KEYS:
            _set_dotted(data, RENAMED_KEYS.get(key, key), value)
    try:
        return validate_profile(_plain(data))
    except ProfileSchemaError as exc:
        lines = [f"  - {_where(key, layers)}{key}: {msg}" for key, msg in exc.errors]
        raise ProfileError(f"{path}: {len(lines)} problem(s) in the profile\n" + "\n".join(lines)) from None


def _replaced(old: str, where: str) -> str:
    new, wider = REPLACED_KEYS[old]
    return f"{where} sets {old!r}, which {new!r} replaced: set {new!r} instead ({wider})"


def _rename_keys(layer: dict, file: Path) -> None:
    """Move a file's former keys (:data:`RENAMED_KEYS`) to their new place; a file that
    sets both fails, naming the new key. A replaced key (:data:`REPLACED_KEYS`) fails
    naming its replacement, unless null (dropped)."""
    for old in REPLACED_KEYS:
        *parents, leaf = old.split(".")
        holder: Any = layer
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and leaf in holder:
            if holder[leaf] is not None:
                raise ProfileError(_replaced(old, str(file)))
            del holder[leaf]
    for old, new in RENAMED_KEYS.items():
        if old not in layer:
            continue
        *parents, leaf = new.split(".")
        node: Any = layer
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            raise ProfileError(f"{file}: sets both {old!r} and {new!r}; {old!r} is the former name of {new!r}: "
                               f"keep only {new!r}")
        _set_dotted(layer, new, layer.pop(old))


def _set_dotted(data: dict, key: str, value: Any) -> None:
    """Set ``data["a"]["b"]`` for ``key`` ``"a.b"``, creating mappings on the way."""
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def _where(key: str, layers: list[tuple[Path, dict]]) -> str:
    """The file (child first) whose own text holds ``key``, as a prefix for messages."""
    for file, layer in layers:
        node: Any = layer
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, Mapping) and part.isdigit() and int(part) in node:
                node = node[int(part)]
            else:
                break
        else:
            return f"{file.name}: "
    return ""


#: Keys holding file paths, made absolute against the profile file that states them.
PATH_KEYS = ("cohort.manifest", "imaging.development.us.manifest", "imaging.development.mri.manifest",
             "segmentation.us.weights", "segmentation.mri.weights")


def _absolutise_paths(layer: dict, base: Path) -> None:
    for key in PATH_KEYS:
        *parents, leaf = key.split(".")
        node: Any = layer
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str) and node[leaf].strip():
            value = Path(node[leaf])
            node[leaf] = str(value if value.is_absolute() else (base / value).resolve())


def stage_params(profile: Mapping[str, Any], sections: tuple[str, ...] | str) -> dict:
    """The parameters one stage sees: the global keys plus its own sections."""
    if isinstance(sections, str):
        sections = (sections,)
    out = {k: copy.deepcopy(profile[k]) for k in GLOBAL_KEYS if k in profile}
    for section in sections:
        out[section] = copy.deepcopy(profile.get(section, {}))
    return out
