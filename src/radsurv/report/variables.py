"""The manuscript's variables: ``_variables.yml``, read by ``{{< var a.b >}}`` shortcodes.

Each stage writes its own small mapping; :func:`merge_variables` combines them and
:func:`write_variables` writes the file deterministically, so the same results give the
same bytes (and an unchanged file does not trigger a re-render).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

__all__ = ["as_strings", "merge_variables", "write_variables"]


class _Dumper(yaml.SafeDumper):
    """Safe dumper that indents lists under their key (easier to read in diffs)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: D401
        return super().increase_indent(flow, False)


def _plain(value: Any, path: str) -> Any:
    """Turn numpy scalars into Python ones and check keys (strings without dots)."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or "." in key:
                raise ValueError(f"variable key {path + str(key)!r} must be a non-empty string without '.' "
                                 "(dots separate levels in {{< var a.b >}})")
            out[key] = _plain(item, f"{path}{key}.")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, path) for v in value]
    if hasattr(value, "item") and callable(value.item) and type(value).__module__ == "numpy":
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"variable {path.rstrip('.')!r}: {type(value).__name__} is not a YAML scalar; "
                    "pass a formatted string")


def write_variables(mapping: Mapping[str, Any], path: Path) -> Path:
    """Write the variables as YAML: keys sorted, values exactly as given.

    Parameters
    ----------
    mapping : mapping
        Nested mapping of str keys to strings, ints, booleans (or lists of them). Numbers
        should come already formatted as strings ("0.70" stays "0.70"; a float would be
        written as Python prints it).
    path : Path
        The file (usually ``_variables.yml`` at the project root); folders are created.

    Returns
    -------
    Path
        ``path``.
    """
    data = _plain(mapping, "")
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False,
                     width=10_000)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return path


def merge_variables(mappings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Deep-merge variable mappings; the same leaf set twice to different values is an error.

    Parameters
    ----------
    mappings : iterable of mapping
        One mapping per stage, in any order.

    Returns
    -------
    dict
        The merged mapping (a new object; inputs are not modified).

    Raises
    ------
    ValueError
        When a key is set twice with different values, or as a mapping in one input and
        a value in another; the message names the dotted key.
    """
    merged: dict[str, Any] = {}
    for mapping in mappings:
        _merge_into(merged, mapping or {}, "")
    return merged


def _merge_into(target: dict[str, Any], source: Mapping[str, Any], path: str) -> None:
    for key, value in source.items():
        where = f"{path}{key}"
        if key not in target:
            target[key] = _copy(value)
        elif isinstance(target[key], dict) and isinstance(value, Mapping):
            _merge_into(target[key], value, where + ".")
        elif target[key] != value or isinstance(target[key], dict) != isinstance(value, Mapping):
            raise ValueError(f"conflicting values for variable '{where}': {target[key]!r} and {value!r}")


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def as_strings(value: Any) -> Any:
    """The same mapping with every scalar as a string (``True`` -> ``"true"``, ``3`` -> ``"3"``).

    Quarto's ``{{< var >}}`` hands a YAML value to pandoc, which prints an unquoted number
    its own way (``0.01`` becomes ``1.0e-2``); as quoted strings the manuscript shows the
    values exactly as the stages formatted them. Floats should not reach here (stages
    format numbers); one that does is written with Python's shortest repr.
    """
    if isinstance(value, Mapping):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_strings(v) for v in value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

