"""A content-keyed cache of the digital twin's simulated image files.

Simulating the twin's images is most of the cohort stage's time, and a hand run of the
stage (or a second build) simulates exactly the same files again. This module keeps
one copy per content key under a cache folder (the pipeline's is
``<build>/cache/twin/``) and puts the files in place by hard link (a copy where the
cache lies on another file system).

The key covers everything the files depend on: the latents the simulator sees (in
order), the resolved scanner and phenotype settings (canonical JSON), the seed, the
modalities, for development sets their parameters and drawn latents, and the code
(:func:`code_digest`: the bytes of the simulating modules and the numpy, SciPy and
SimpleITK versions). ``n_jobs`` is not part of it: the images do not depend on it.

Layout of one entry, ``<cache_dir>/<kind>-<key>/``::

    files/...     the files as the simulator wrote them (relative to its out_dir)
    table.json    the path columns, relative to files/, one row per patient in order
    key.json      what the key was made of (for people; never read back)

An entry is filled in a temporary folder inside ``cache_dir`` and renamed into place
once complete, so an interrupted run never leaves an entry a later run would take.
Cached files are never written to: a hit links (or copies) them, and the simulator
replaces, rather than overwrites, any file already at a destination.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from . import twin as _twin
from .scanners import resolve_phenotype, resolve_scanners

__all__ = ["CODE_FILES", "cached_cohort_images", "cached_devset", "code_digest", "cohort_key", "devset_key"]

_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parents[1]  # src/radsurv

#: The modules whose code determines the simulated files (relative to the package):
#: the simulators, what they import from radsurv, and this module (the entry layout).
CODE_FILES = (
    "imaging/_common.py",
    "imaging/scanners.py",
    "imaging/simulate_mri.py",
    "imaging/simulate_us.py",
    "imaging/twin.py",
    "imaging/cache.py",
    "progress.py",
)

_LATENT_COLUMNS = (("patient_id", "str"), ("center", "int"), ("a_img", "float"), ("b_img", "float"),
                   ("size_mm", "float"))


def code_digest() -> str:
    """Hash of the simulating code: the bytes of :data:`CODE_FILES` and the numpy,
    SciPy and SimpleITK versions (random streams, filters, the NIfTI writer)."""
    import scipy
    import SimpleITK as sitk

    h = hashlib.sha256()
    for name in CODE_FILES:
        h.update(f"|{name}|".encode())
        h.update((_PACKAGE / name).read_bytes())
    h.update(f"|numpy {np.__version__}|scipy {scipy.__version__}|SimpleITK {sitk.Version_VersionString()}".encode())
    return h.hexdigest()[:16]


def _plain(x: Any) -> Any:
    """JSON fallback for numpy scalars and arrays."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot put {type(x).__name__} into a cache key")


def _canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, mapping keys as strings)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


def _latents_bytes(latents: pd.DataFrame) -> bytes:
    """The latents as the simulator sees them, column by column in row order:
    ``patient_id`` as text, ``center`` as int64, the latents as float64 (``h_img``,
    the image-only trait, if present), and ``mri_bpe`` (if present) as text or null."""
    parts: list[bytes] = []
    columns = (list(_LATENT_COLUMNS) + ([("h_img", "float")] if "h_img" in latents else [])
               + ([("mri_bpe", "bpe")] if "mri_bpe" in latents else []))
    for name, kind in columns:
        values = latents[name]
        parts.append(f"|{name}|{len(values)}|".encode())
        if kind == "float":
            parts.append(np.asarray(values, dtype="<f8").tobytes())
        elif kind == "int":
            parts.append(np.asarray([int(v) for v in values], dtype="<i8").tobytes())
        elif kind == "str":
            parts.append(_canonical([str(v) for v in values]).encode())
        else:
            parts.append(_canonical([v if isinstance(v, str) else None for v in values]).encode())
    return b"".join(parts)


def _settings(scanners: dict | None, phenotype: dict | None) -> dict[str, Any]:
    """The resolved scanner and phenotype settings (defaults filled in)."""
    table = resolve_scanners(scanners)
    return {"scanners": {str(c): table[c] for c in sorted(table)}, "phenotype": resolve_phenotype(phenotype)}


def _key(description: dict[str, Any], latents: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(_canonical(description).encode())
    h.update(_latents_bytes(latents))
    return h.hexdigest()


def cohort_key(latents: pd.DataFrame, scanners: dict | None, seed: int, *, phenotype: dict | None = None,
               modalities: Iterable[str] = _twin.MODALITIES) -> str:
    """Content key of :func:`radsurv.imaging.twin.write_cohort_images`' files (64 hex digits)."""
    return _key(_cohort_description(scanners, seed, phenotype, modalities), latents)


def _cohort_description(scanners, seed, phenotype, modalities) -> dict[str, Any]:
    return {"format": _FORMAT, "kind": "cohort", "code": code_digest(), "seed": int(seed),
            "modalities": list(modalities), **_settings(scanners, phenotype)}


def _devset_centers(centers) -> dict[str, float]:
    weights = dict(centers) if isinstance(centers, dict) else {int(c): 1.0 for c in centers}
    return {str(int(c)): float(weights[c]) for c in sorted(weights, key=int)}


def _devset_description(modality, n, scanners, seed, centers, latents, phenotype) -> dict[str, Any]:
    return {"format": _FORMAT, "kind": "devset", "code": code_digest(), "seed": int(seed), "modality": modality,
            "n": int(n), "centers": _devset_centers(centers),
            "latents": {**_twin.DEFAULT_DEVELOPMENT_LATENTS, **(latents or {})}, **_settings(scanners, phenotype)}


def devset_key(modality: str, n: int, scanners: dict | None, seed: int, *,
               centers: dict[int, float] | Iterable[int] = (1,), latents: dict | None = None,
               phenotype: dict | None = None) -> str:
    """Content key of :func:`radsurv.imaging.twin.write_devset`'s files (64 hex digits):
    its parameters and the development latents they draw."""
    drawn = _twin.devset_latents(int(n), int(seed), modality, centers, latents)
    return _key(_devset_description(modality, n, scanners, seed, centers, latents, phenotype), drawn)


# --------------------------------------------------------------------------- entries


def _place(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` by hard link, or by copy where linking fails.
    Anything at ``target`` is replaced (unlinked), never written through."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        if target.is_dir():
            raise IsADirectoryError(f"{target} is a folder, not an image file")
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _entry(cache_dir: Path, kind: str, key: str, description: dict[str, Any],
           fill: Callable[[Path], pd.DataFrame]) -> tuple[Path, list[str], list[list[str]]]:
    """The complete entry for ``key``, filled by ``fill(files_dir)`` on a miss.

    ``fill`` writes the files under ``files_dir`` and returns their path table (paths
    relative to ``files_dir``, first column ``patient_id``). Returns the entry folder,
    the path columns and the rows of paths (relative to ``files/``)."""
    entry = cache_dir / f"{kind}-{key}"
    if not (entry / "table.json").is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".tmp-{kind}-{key[:16]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            table = fill(tmp / "files")
            columns = [c for c in table.columns if c != "patient_id"]
            stored = {"columns": columns, "rows": table[columns].to_numpy().tolist()}
            (tmp / "key.json").write_text(json.dumps({"key": key, **description}, indent=1, default=_plain) + "\n",
                                          encoding="utf-8")
            (tmp / "table.json").write_text(json.dumps(stored) + "\n", encoding="utf-8")
            try:
                os.rename(tmp, entry)
            except OSError:
                if (entry / "table.json").is_file():  # a concurrent fill won: use its entry
                    pass
                else:  # a folder without table.json is no entry (made by hand): replace it
                    shutil.rmtree(entry)
                    os.rename(tmp, entry)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    stored = json.loads((entry / "table.json").read_text(encoding="utf-8"))
    return entry, stored["columns"], stored["rows"]


def _put_in_place(entry: Path, columns: list[str], rows: list[list[str]], out_dir: Path, root: Path,
                  n: int) -> dict[str, list[str]]:
    """Link the entry's files into ``out_dir``; the path columns relative to ``root``."""
    if len(rows) != n:
        raise RuntimeError(f"cache entry {entry} has {len(rows)} rows, expected {n}")
    out: dict[str, list[str]] = {c: [] for c in columns}
    for row in rows:
        for column, rel in zip(columns, row):
            target = out_dir / rel
            _place(entry / "files" / rel, target)
            out[column].append(_twin._relative(target, root))
    return out


def _arguments(signature: inspect.Signature, args: tuple, kwargs: dict) -> dict[str, Any]:
    """All arguments of a call by name, defaults filled in."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


_COHORT_SIGNATURE = inspect.signature(_twin.write_cohort_images)
_DEVSET_SIGNATURE = inspect.signature(_twin.write_devset)


def cached_cohort_images(latents: pd.DataFrame, out_dir: str | Path, cache_dir: str | Path, *args,
                         **kwargs) -> pd.DataFrame:
    """:func:`radsurv.imaging.twin.write_cohort_images` through the cache in ``cache_dir``.

    The other parameters are :func:`~radsurv.imaging.twin.write_cohort_images`' and so
    is the table (and the bytes under ``out_dir``); on a hit nothing is simulated, on
    a miss the files are simulated into the cache first.
    """
    a = _arguments(_COHORT_SIGNATURE, (latents, out_dir, *args), kwargs)
    if a["seed"] is None:
        raise TypeError("write_cohort_images needs a seed")
    a["modalities"] = tuple(a["modalities"])
    out_dir = Path(out_dir)
    root = Path(a["root"]) if a["root"] is not None else out_dir.parent
    description = _cohort_description(a["scanners"], a["seed"], a["phenotype"], a["modalities"])
    key = _key(description, latents)

    def fill(files: Path) -> pd.DataFrame:
        return _twin.write_cohort_images(**{**a, "out_dir": files, "root": files})

    entry, columns, rows = _entry(Path(cache_dir), "images", key, description, fill)
    frame = pd.DataFrame({"patient_id": latents["patient_id"].to_numpy()})
    for column, values in _put_in_place(entry, columns, rows, out_dir, root, len(latents)).items():
        frame[column] = values
    return frame


def cached_devset(modality: str, n: int, out_dir: str | Path, cache_dir: str | Path, *args,
                  **kwargs) -> pd.DataFrame:
    """:func:`radsurv.imaging.twin.write_devset` through the cache in ``cache_dir``
    (its other parameters, its table and bytes)."""
    a = _arguments(_DEVSET_SIGNATURE, (modality, n, out_dir, *args), kwargs)
    if modality not in _twin.MODALITIES:
        raise ValueError(f"modality must be one of {_twin.MODALITIES}, not {modality!r}")
    if a["seed"] is None:
        raise TypeError("write_devset needs a seed")
    out_dir = Path(out_dir)
    root = Path(a["root"]) if a["root"] is not None else out_dir.parent
    if not isinstance(a["centers"], dict):
        a["centers"] = tuple(a["centers"])
    drawn = _twin.devset_latents(int(n), int(a["seed"]), modality, a["centers"], a["latents"])
    description = _devset_description(modality, n, a["scanners"], a["seed"], a["centers"], a["latents"],
                                      a["phenotype"])
    key = _key(description, drawn)

    def fill(files: Path) -> pd.DataFrame:
        table = _twin.write_devset(**{**a, "out_dir": files, "root": files})
        return table[["patient_id", "image", "mask", "reader_mask"]]

    entry, columns, rows = _entry(Path(cache_dir), f"devset-{modality}", key, description, fill)
    out = drawn[["patient_id", "center", "size_mm"]].copy()
    for column, values in _put_in_place(entry, columns, rows, out_dir, root, len(drawn)).items():
        out[column] = values
    return out
