"""Read a Quarto manuscript (``index.qmd``) and check that everything in it resolves.

Quarto resolves includes, ``{{< var >}}`` shortcodes and cross-references while it
renders; a missing variable only gives a warning and a missing label a "?@fig-x" in the
paper. This module does the same resolution in Python (with pandoc's own parser for the
markdown) so that the build can fail early, naming the file and line of each problem,
and so that :mod:`radsurv.report.preview` can render without Quarto.

Quarto semantics followed here (checked against quarto.org and quarto-cli):

* Include paths are resolved from the directory of the *main* document, also inside
  included files ("Include shortcodes are equivalent to copying and pasting the text ...
  relative references (links, images, other includes) inside the included file resolve
  based on the directory of the main file", quarto.org/docs/authoring/includes); a path
  starting with ``/`` is relative to the project root. Includes must stand alone on a
  line.
* ``{{< var a.b >}}`` looks up a dotted path in the project's ``_variables.yml``.
  ``{{{< ... >}}}`` is the escape for a literal shortcode.
* Cross-reference labels carry a type prefix (``fig-``, ``tbl-``, ``sec-``, ``eq-``);
  ``@fig-x`` gives "Figure 1", ``-@fig-x`` only "1", ``[Fig. -@fig-x]`` a custom prefix,
  ``@Fig-x`` the capitalised prefix.
* Section numbers follow quarto-cli's ``crossref/sections.lua``: counters per heading
  level, ``.unnumbered`` headings skipped, and the level-1 counter left out of the
  number when the document has no level-1 heading (``## Methods`` is "2", not "0.2").
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import unquote

import pypandoc
import yaml

from ..exceptions import ManuscriptError

__all__ = ["bibliography_keys", "bibliography_paths", "CALLOUT_TITLES", "check_manuscript", "collect_labels",
           "crossref_citations", "CROSSREF_PREFIXES", "CrossrefStyle", "is_crossref_key", "iter_elements", "Label",
           "load_manuscript", "load_project_config", "load_variables", "lookup_variable", "Manuscript",
           "manuscript_problems", "number_crossrefs", "ordered_problems", "PANDOC_FORMAT", "parse_markdown", "parse_metadata",
           "Problem", "quarto_option", "resolve_callouts", "resolve_includes", "resolve_variables",
           "section_numbers", "SourceText", "split_front_matter", "stringify", "substitute_shortcodes",
           "SUPPORTED_SHORTCODES"]

#: Cross-reference types this module numbers, with Quarto's default reference prefixes.
CROSSREF_PREFIXES: dict[str, str] = {"fig": "Figure", "tbl": "Table", "sec": "Section", "eq": "Equation"}

#: Shortcodes the preview understands; any other one is reported (it would leak as text).
SUPPORTED_SHORTCODES = ("include", "var", "meta", "pagebreak")

#: Pandoc markdown input: Quarto's dialect is pandoc markdown with these on by default.
PANDOC_FORMAT = "markdown"

_SHORTCODE_RE = re.compile(r"(?P<open>\{?)\{\{<\s*(?P<name>[A-Za-z][\w-]*)(?P<args>.*?)>\}\}(?P<close>\}?)")
_INCLUDE_LINE_RE = re.compile(r"^\s*\{\{<\s*include\s+(?P<arg>\"[^\"]*\"|'[^']*'|\S+?)\s*>\}\}\s*$")
_FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_FRONT_MATTER_END = ("---", "...")


@dataclass(frozen=True)
class Problem:
    """One unresolved item: where it is and what is wrong."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class SourceText:
    """Markdown lines, each remembering the file and line (1-based) it came from."""

    lines: list[str] = field(default_factory=list)
    origins: list[tuple[Path, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")

    def append(self, line: str, origin: tuple[Path, int]) -> None:
        self.lines.append(line)
        self.origins.append(origin)

    def code_mask(self) -> list[bool]:
        """Which lines lie inside fenced code blocks (searched last when locating items)."""
        mask, fence = [], None
        for line in self.lines:
            m = _FENCE_RE.match(line)
            if fence is None:
                if m:
                    fence = m.group(1)[0]
                mask.append(fence is not None)
            else:
                mask.append(True)
                if m and m.group(1)[0] == fence:
                    fence = None
        return mask


@dataclass(frozen=True)
class Label:
    """A cross-reference target: its type (``fig``...), its number, its order of appearance."""

    label: str
    kind: str
    number: str
    title: str = ""


@dataclass(frozen=True)
class CrossrefStyle:
    """How references and captions read: Quarto's ``crossref`` options (``fig-prefix``,
    ``fig-title``, ``title-delim``...), defaulting to "Figure 1" and "Figure 1: caption"."""

    prefixes: Mapping[str, str] = field(default_factory=lambda: dict(CROSSREF_PREFIXES))
    titles: Mapping[str, str] = field(default_factory=lambda: dict(CROSSREF_PREFIXES))
    delim: str = ":"

    @classmethod
    def from_options(cls, options: Any) -> "CrossrefStyle":
        """Build from the ``crossref`` mapping of the front matter or ``_quarto.yml``."""
        options = options if isinstance(options, Mapping) else {}
        prefixes = {k: str(options.get(f"{k}-prefix", v)) for k, v in CROSSREF_PREFIXES.items()}
        titles = {k: str(options.get(f"{k}-title", v)) for k, v in CROSSREF_PREFIXES.items()}
        return cls(prefixes, titles, str(options.get("title-delim", ":")))


@dataclass
class Manuscript:
    """A manuscript with includes and variables resolved, parsed by pandoc."""

    project_root: Path
    qmd_path: Path
    metadata: dict[str, Any]
    project_config: dict[str, Any]
    body: SourceText
    front: SourceText
    doc: dict[str, Any]
    problems: list[Problem]

    def option(self, name: str, default: Any = None) -> Any:
        """A Quarto option: document front matter first, then ``_quarto.yml``."""
        return quarto_option(name, self.metadata, self.project_config, default)


# --------------------------------------------------------------------------- paths


def _display(path: Path, root: Path) -> str:
    """The path as shown in problems: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _unquote(arg: str) -> str:
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        return arg[1:-1]
    return arg


def _shortcode_args(raw: str) -> list[str]:
    """Split shortcode arguments like a shell would (Quarto allows quoted arguments)."""
    try:
        return shlex.split(raw)
    except ValueError:
        return raw.split()


# --------------------------------------------------------------------------- front matter


def split_front_matter(lines: list[str]) -> tuple[list[str], int]:
    """Separate the YAML front matter from the body.

    Parameters
    ----------
    lines : list of str
        The lines of the ``.qmd`` file.

    Returns
    -------
    (list of str, int)
        The YAML lines (without the ``---`` fences; empty when there is none) and the
        index of the first body line.
    """
    if not lines or lines[0].rstrip() != "---":
        return [], 0
    for i in range(1, len(lines)):
        if lines[i].rstrip() in _FRONT_MATTER_END:
            return lines[1:i], i + 1
    return [], 0


def quarto_option(name: str, metadata: Mapping[str, Any], project: Mapping[str, Any], default: Any = None) -> Any:
    """Look an option up where Quarto would: front matter, its html format, then ``_quarto.yml``.

    Parameters
    ----------
    name : str
        The option (``number-sections``, ``bibliography``...).
    metadata, project : mapping
        The document's front matter and the parsed ``_quarto.yml``.
    default
        Returned when no level sets the option.

    Returns
    -------
    The first value found.
    """
    for level in (metadata, project):
        if not isinstance(level, Mapping):
            continue
        fmt = level.get("format")
        html = fmt.get("html") if isinstance(fmt, Mapping) else None
        if isinstance(html, Mapping) and name in html:
            return html[name]
        if name in level:
            return level[name]
    return default


def load_project_config(project_root: Path) -> dict[str, Any]:
    """Parse ``_quarto.yml`` (an empty mapping when absent)."""
    path = Path(project_root) / "_quarto.yml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- includes


def resolve_includes(
    qmd_path: Path, project_root: Path | None = None, *, skip_lines: int = 0
) -> tuple[SourceText, list[Problem]]:
    """Replace every ``{{< include path >}}`` line by the file's content, recursively.

    Parameters
    ----------
    qmd_path : Path
        The main document. Relative include paths resolve from its directory (also in
        nested includes, as in Quarto); ``/path`` resolves from ``project_root``.
    project_root : Path, optional
        Defaults to the main document's directory.
    skip_lines : int
        Lines at the top of the main document to leave out (its front matter).

    Returns
    -------
    (SourceText, list of Problem)
        The expanded lines with their origins, and the unresolved includes (missing
        file, include cycle, include not alone on its line).
    """
    qmd_path = Path(qmd_path)
    root = Path(project_root) if project_root is not None else qmd_path.parent
    out, problems = SourceText(), []
    _expand_file(qmd_path, qmd_path.parent, root, [], out, problems, skip_lines)
    return out, problems


def _expand_file(path: Path, main_dir: Path, root: Path, stack: list[Path], out: SourceText,
                 problems: list[Problem], skip_lines: int = 0) -> None:
    """Append ``path``'s lines to ``out``, expanding include lines in place."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines[skip_lines:], start=skip_lines + 1):
        m = _INCLUDE_LINE_RE.match(line)
        if m is None:
            if _has_unescaped_include(line):
                problems.append(Problem(_display(path, root), lineno,
                                        "include shortcode must stand alone on its line (Quarto ignores it otherwise)"))
            out.append(line, (path, lineno))
            continue
        target_text = _unquote(m.group("arg"))
        target = _include_target(target_text, main_dir, root)
        if not target.is_file():
            problems.append(Problem(_display(path, root), lineno,
                                    _missing_include_message(target_text, target, path, main_dir, root)))
            continue
        if target.resolve() in [p.resolve() for p in (*stack, path)]:
            problems.append(Problem(_display(path, root), lineno, f"include cycle: '{target_text}' includes itself"))
            continue
        _expand_file(target, main_dir, root, [*stack, path], out, problems)


def _has_unescaped_include(line: str) -> bool:
    return any(m.group("name") == "include" and not (m.group("open") and m.group("close"))
               for m in _SHORTCODE_RE.finditer(line))


def _include_target(target: str, main_dir: Path, root: Path) -> Path:
    if target.startswith("/"):
        return root / target.lstrip("/")
    return main_dir / target


def _missing_include_message(target_text: str, target: Path, including: Path, main_dir: Path, root: Path) -> str:
    msg = f"unresolved include '{target_text}': file {_display(target, root)} not found"
    beside = including.parent / target_text
    if not target_text.startswith("/") and including.parent != main_dir and beside.is_file():
        # The commonest mistake with nested includes: Quarto does not resolve them from
        # the including file's folder.
        rel = _display(beside, root)
        msg += (f" (Quarto resolves include paths from the main document's folder, not the including "
                f"file's; write '/{rel}')")
    return msg


# --------------------------------------------------------------------------- variables


def load_variables(path: Path) -> dict[str, Any]:
    """Read ``_variables.yml``.

    Parameters
    ----------
    path : Path
        The variables file.

    Returns
    -------
    dict
        The nested mapping (empty for an empty file).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When it is not valid YAML or not a mapping.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
    return data


def lookup_variable(variables: Mapping[str, Any], key: str) -> str:
    """The value of a dotted key (``cohort.n_total``) as the text Quarto would insert.

    Parameters
    ----------
    variables : mapping
        The nested variables.
    key : str
        Dotted path; ``\\.`` stands for a literal dot in a key (as in Quarto >= 1.6).

    Returns
    -------
    str

    Raises
    ------
    KeyError
        When the path does not exist or ends on a mapping or list.
    """
    node: Any = variables
    parts = [p.replace("\x00", ".") for p in key.replace("\\.", "\x00").split(".")]
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, Mapping) and _int_key(part) in node:
            node = node[_int_key(part)]
        else:
            raise KeyError(key)
    if isinstance(node, (Mapping, list)) or node is None:
        raise KeyError(key)
    return _format_value(node)


def _int_key(part: str) -> Any:
    return int(part) if part.isdigit() else part


def _format_value(value: Any) -> str:
    # YAML booleans print as Quarto (Lua) prints them.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_variables(
    source: SourceText, variables: Mapping[str, Any] | None, project_root: Path,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[SourceText, list[Problem]]:
    """Replace ``{{< var key >}}`` (and ``{{< meta key >}}``) shortcodes line by line.

    Parameters
    ----------
    source : SourceText
        Lines with origins (from :func:`resolve_includes`).
    variables : mapping or None
        From :func:`load_variables`; None when ``_variables.yml`` is missing.
    project_root : Path
        For the file names in problems.
    metadata : mapping, optional
        The front matter, for ``meta`` shortcodes.

    Returns
    -------
    (SourceText, list of Problem)
        The substituted lines (a multi-line value keeps its origin on every line) and the
        unresolved shortcodes.
    """
    out, problems = SourceText(), []
    for line, origin in zip(source.lines, source.origins):
        where = (_display(origin[0], project_root), origin[1])
        new = substitute_shortcodes(line, variables, metadata, problems, where)
        for piece in new.split("\n"):
            out.append(piece, origin)
    return out, problems


def substitute_shortcodes(text: str, variables: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None,
                          problems: list[Problem], where: tuple[str, int | None]) -> str:
    """Substitute the shortcodes of one piece of text, appending problems to ``problems``."""

    def replace(m: re.Match) -> str:
        name, args = m.group("name"), _shortcode_args(m.group("args"))
        if m.group("open") and m.group("close"):
            # {{{< var x >}}} is Quarto's escape: it renders as the literal shortcode.
            return m.group(0)[1:-1]
        if name in ("var", "meta"):
            return _substitute_lookup(m, name, args, variables if name == "var" else metadata, problems, where)
        if name == "pagebreak":
            return '<div style="page-break-after: always;"></div>'
        if name == "include":
            return m.group(0)  # reported by resolve_includes
        problems.append(Problem(where[0], where[1], f"unsupported shortcode '{name}' (supported: "
                                                    f"{', '.join(SUPPORTED_SHORTCODES)})"))
        return m.group(0)

    return _SHORTCODE_RE.sub(replace, text)


def _substitute_lookup(m: re.Match, name: str, args: list[str], table: Mapping[str, Any] | None,
                       problems: list[Problem], where: tuple[str, int | None]) -> str:
    if not args:
        problems.append(Problem(where[0], where[1], f"'{name}' shortcode without a key"))
        return m.group(0)
    key = args[0]
    if table is None:
        what = "_variables.yml not found" if name == "var" else "no front matter"
        problems.append(Problem(where[0], where[1], f"unresolved variable '{key}' ({what})"))
        return m.group(0)
    try:
        return lookup_variable(table, key)
    except KeyError:
        kind = "variable" if name == "var" else "metadata key"
        problems.append(Problem(where[0], where[1], f"unresolved {kind} '{key}'"))
        return m.group(0)


def _substitute_in_metadata(value: Any, variables: Mapping[str, Any] | None, metadata: Mapping[str, Any]) -> Any:
    """Substitute shortcodes inside every string of the parsed front matter."""
    if isinstance(value, str):
        return substitute_shortcodes(value, variables, metadata, [], ("", None))
    if isinstance(value, list):
        return [_substitute_in_metadata(v, variables, metadata) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_in_metadata(v, variables, metadata) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- pandoc AST


def parse_markdown(text: str) -> dict[str, Any]:
    """Parse pandoc markdown into pandoc's JSON AST."""
    return json.loads(pypandoc.convert_text(text, "json", format=PANDOC_FORMAT, extra_args=["--quiet"]))


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks, so paragraph breaks survive (a quoted
    scalar would fold them) when pandoc reads the metadata as markdown."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" not in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)
    # Pandoc reads a value without a final newline as inlines (paragraphs become line breaks).
    value = value if value.endswith("\n") else value + "\n"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


_BlockDumper.add_representer(str, _represent_str)


def parse_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Pandoc's JSON ``meta`` for a mapping (strings parsed as markdown, as pandoc does)."""
    if not metadata:
        return {}
    text = yaml.dump(dict(metadata), Dumper=_BlockDumper, allow_unicode=True, sort_keys=True, width=10_000)
    return parse_markdown("---\n" + text + "---\n")["meta"]


def iter_elements(node: Any) -> Iterator[dict[str, Any]]:
    """Every AST element (a dict with a ``t`` key) under ``node``, in document order."""
    if isinstance(node, dict):
        if "t" in node:
            yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from iter_elements(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_elements(item)


def stringify(node: Any) -> str:
    """Plain text of inlines (for titles and messages)."""
    parts = []
    for el in iter_elements(node):
        t = el["t"]
        if t in ("Str", "Code", "Math", "RawInline"):
            parts.append(el["c"] if t == "Str" else el["c"][-1])
        elif t in ("Space", "SoftBreak", "LineBreak"):
            parts.append(" ")
    return "".join(parts)


def _attr_id(el: dict[str, Any]) -> str:
    """The identifier of an element that has attributes, else ''."""
    t, c = el["t"], el.get("c")
    if t == "Header":
        return c[1][0]
    if t in ("Figure", "Table", "Div", "Span", "CodeBlock"):
        return c[0][0]
    if t in ("Image", "Link", "Code"):
        return c[0][0]
    return ""


def _label_kind(label: str) -> str | None:
    prefix = label.split("-", 1)[0].lower() if "-" in label else ""
    return prefix if prefix in CROSSREF_PREFIXES else None


def _has_class(el: dict[str, Any], cls: str) -> bool:
    t = el["t"]
    attr = el["c"][1] if t == "Header" else el["c"][0]
    return cls in attr[1]


def _equation_label(inlines: list[dict[str, Any]], i: int) -> str | None:
    """The ``eq-`` label written after the display math at ``inlines[i]`` (``$$..$$ {#eq-x}``)."""
    j = i + 1
    if j < len(inlines) and inlines[j]["t"] == "Space":
        j += 1
    if j < len(inlines) and inlines[j]["t"] == "Str":
        m = re.fullmatch(r"\{#(eq-[^}\s]+)\}", inlines[j]["c"])
        if m:
            return m.group(1)
    return None


def section_numbers(blocks: list[dict[str, Any]]) -> list[str | None]:
    """Quarto's number of every heading, in document order (None for ``.unnumbered``).

    Emulates quarto-cli ``crossref/sections.lua``: one counter per level (capped at 7),
    deeper counters reset when a shallower heading comes, and the level-1 counter only
    part of the number when the document has a level-1 heading.
    """
    headers = [el for el in iter_elements(blocks) if el["t"] == "Header"]
    if not headers:
        return []
    top = min(h["c"][0] for h in headers)
    counters = [0] * 8
    current = 0
    numbers: list[str | None] = []
    for h in headers:
        if _has_class(h, "unnumbered"):
            numbers.append(None)
            continue
        level = min(h["c"][0], 7)
        if level < current:
            for i in range(level + 1, 8):
                counters[i] = 0
        counters[level] += 1
        current = level
        numbers.append(_format_section_number(counters, level, top))
    return numbers


def _format_section_number(counters: list[int], level: int, top: int) -> str:
    last = 1
    for i in range(level, 1, -1):
        if counters[i] > 0:
            last = i
            break
    parts = [str(counters[1])] if top == 1 else []
    parts += [str(counters[i]) for i in range(2, last + 1)]
    return ".".join(parts)


def collect_labels(doc: dict[str, Any]) -> tuple[dict[str, Label], list[str]]:
    """Number every cross-reference target of the document.

    Parameters
    ----------
    doc : dict
        Pandoc JSON AST (callouts already handled, so their title headings do not count).

    Returns
    -------
    (dict, list of str)
        Label -> :class:`Label` (figures, tables and equations numbered 1, 2... in order
        of appearance, sections with their section number), and the labels defined more
        than once.
    """
    labels: dict[str, Label] = {}
    duplicates: list[str] = []
    counts = {kind: 0 for kind in CROSSREF_PREFIXES}
    sec_numbers = iter(section_numbers(doc["blocks"]))

    def add(label: str, kind: str, number: str, title: str = "") -> None:
        if label in labels:
            duplicates.append(label)
        else:
            labels[label] = Label(label, kind, number, title)

    for el in iter_elements(doc["blocks"]):
        t = el["t"]
        if t == "Header":
            number = next(sec_numbers)
            ident = _attr_id(el)
            if _label_kind(ident) == "sec":
                add(ident, "sec", number or "", stringify(el["c"][2]))
            continue
        if t in ("Para", "Plain"):
            for i, inl in enumerate(el["c"]):
                if inl["t"] == "Math" and inl["c"][0]["t"] == "DisplayMath":
                    eq = _equation_label(el["c"], i)
                    if eq:
                        counts["eq"] += 1
                        add(eq, "eq", str(counts["eq"]))
            continue
        if t not in ("Figure", "Table", "Div", "Image"):
            continue
        ident = _attr_id(el)
        kind = _label_kind(ident)
        if kind in ("fig", "tbl"):
            counts[kind] += 1
            add(ident, kind, str(counts[kind]))
    return labels, duplicates


def crossref_citations(node: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (Cite element, citation) pair under ``node``."""
    for el in iter_elements(node):
        if el["t"] == "Cite":
            for citation in el["c"][0]:
                yield el, citation


def is_crossref_key(key: str) -> bool:
    """Whether ``@key`` is a cross-reference (fig-/tbl-/sec-/eq-) rather than a citation."""
    return _label_kind(key) is not None


def number_crossrefs(doc: dict[str, Any], *, number_sections: bool = True,
                     labels: Mapping[str, Label] | None = None, style: CrossrefStyle | None = None) -> dict[str, Any]:
    """Number sections, figures, tables and equations and link the cross-references, in place.

    Parameters
    ----------
    doc : dict
        Pandoc JSON AST.
    number_sections : bool
        Show section numbers in headings (Quarto's ``number-sections``). References to
        sections get their number either way.
    labels : mapping, optional
        From :func:`collect_labels` (computed when not given).
    style : CrossrefStyle, optional
        Prefixes and caption titles (Quarto's defaults when not given).

    Returns
    -------
    dict
        ``doc``, with "Figure N: "/"Table N: " before captions, "(N)" after labelled
        equations, section numbers in headings and every known ``@label`` citation turned
        into a link ("Figure 1", "Section 2"...). Unknown labels are left as citations
        (:func:`check_manuscript` reports them).
    """
    if labels is None:
        labels, _ = collect_labels(doc)
    style = style or CrossrefStyle()
    sec_numbers = iter(section_numbers(doc["blocks"]))
    for el in iter_elements(doc["blocks"]):
        t = el["t"]
        if t == "Header":
            number = next(sec_numbers)
            if number_sections and number:
                el["c"][1][2].append(["number", number])
                el["c"][2][:0] = [_span([_str(number)], classes=["header-section-number"]), {"t": "Space"}]
        elif t in ("Figure", "Table"):
            label = labels.get(_attr_id(el))
            if label is not None and label.kind in ("fig", "tbl"):
                _prefix_caption(el["c"][1][1], label, style)
        elif t == "Div":
            label = labels.get(_attr_id(el))
            if label is not None and label.kind in ("fig", "tbl"):
                _prefix_div_caption(el, label, style)
        elif t in ("Para", "Plain"):
            _number_equations(el["c"], labels)
    for el in list(iter_elements(doc)):
        if el["t"] == "Cite":
            _link_crossrefs(el, labels, style)
    return doc


def _str(text: str) -> dict[str, Any]:
    return {"t": "Str", "c": text}


def _span(inlines: list, ident: str = "", classes: list[str] | None = None) -> dict[str, Any]:
    return {"t": "Span", "c": [[ident, classes or [], []], inlines]}


def _caption_prefix(label: Label, style: CrossrefStyle) -> list[dict[str, Any]]:
    text = f"{style.titles[label.kind]} {label.number}{style.delim}"
    return [_span([_str(text)], classes=["caption-label"]), {"t": "Space"}]


def _prefix_caption(blocks: list[dict[str, Any]], label: Label, style: CrossrefStyle) -> None:
    """Put "Figure N: " before a caption (an empty caption becomes just the label)."""
    if blocks and blocks[0]["t"] in ("Plain", "Para"):
        blocks[0]["c"][:0] = _caption_prefix(label, style)
    else:
        blocks.insert(0, {"t": "Plain", "c": _caption_prefix(label, style)[:1]})


def _prefix_div_caption(div: dict[str, Any], label: Label, style: CrossrefStyle) -> None:
    """A ``::: {#fig-x}`` float: its caption is the last paragraph (as in Quarto)."""
    content = div["c"][1]
    if content and content[-1]["t"] == "Para" and len(content) > 1:
        content[-1]["c"][:0] = _caption_prefix(label, style)
        content[-1]["t"] = "Para"
        div["c"][0][1].append("quarto-float-caption-last")


def _number_equations(inlines: list[dict[str, Any]], labels: Mapping[str, Label]) -> None:
    for i, inl in enumerate(inlines):
        if inl["t"] == "Math" and inl["c"][0]["t"] == "DisplayMath":
            eq = _equation_label(inlines, i)
            if eq and eq in labels:
                j = i + 1 if inlines[i + 1]["t"] == "Str" else i + 2
                inlines[j] = _span([_str(f"({labels[eq].number})")], ident=eq, classes=["equation-number"])


def _link_crossrefs(cite: dict[str, Any], labels: Mapping[str, Label], style: CrossrefStyle) -> None:
    """Replace the cross-reference citations of one Cite by links; keep real citations."""
    citations = cite["c"][0]
    refs = [c for c in citations if is_crossref_key(c["citationId"])]
    if not refs or any(_lookup_label(c["citationId"], labels) is None for c in refs):
        return
    pieces: list[list[dict[str, Any]]] = [_crossref_link(c, labels, style) for c in refs]
    others = [c for c in citations if not is_crossref_key(c["citationId"])]
    if others:
        pieces.append([{"t": "Cite", "c": [others, [_str(" ".join("@" + c["citationId"] for c in others))]]}])
    inlines: list[dict[str, Any]] = []
    for i, piece in enumerate(pieces):
        if i:
            inlines += [_str(","), {"t": "Space"}]
        inlines += piece
    cite["t"], cite["c"] = "Span", [["", ["quarto-xref-group"], []], inlines]


def _capitalised(prefix: str, key: str) -> str:
    # @Fig-x asks for a capitalised prefix (matters only for a lower-case fig-prefix).
    return prefix[:1].upper() + prefix[1:] if key[:1].isupper() else prefix


def _lookup_label(key: str, labels: Mapping[str, Label]) -> Label | None:
    # @Fig-x refers to #fig-x with a capitalised prefix (Quarto).
    return labels.get(key) or labels.get(key[:1].lower() + key[1:])


def _crossref_link(citation: dict[str, Any], labels: Mapping[str, Label],
                   style: CrossrefStyle) -> list[dict[str, Any]]:
    label = _lookup_label(citation["citationId"], labels)
    assert label is not None
    prefix = citation["citationPrefix"]
    if not label.number:
        # An .unnumbered section has no number to show: refer to it by its title.
        text = [_str(label.title)]
    elif citation["citationMode"]["t"] == "SuppressAuthor" and not prefix:
        text = [_str(label.number)]
    elif prefix:
        # [Fig. -@fig-x] / [Fig. @fig-x]: the written prefix replaces the default one.
        text = [*prefix, {"t": "Space"}, _str(label.number)]
    else:
        text = [_str(f"{_capitalised(style.prefixes[label.kind], citation['citationId'])} {label.number}")]
    link = {"t": "Link", "c": [["", ["quarto-xref"], []], text, [f"#{label.label}", ""]]}
    return [link, *citation["citationSuffix"]]


# --------------------------------------------------------------------------- callouts

#: Quarto's callout types and their default titles.
CALLOUT_TITLES = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
                  "caution": "Caution"}


def resolve_callouts(doc: dict[str, Any]) -> dict[str, Any]:
    """Give every ``::: {.callout-*}`` div a title and a body, in place.

    As in Quarto, the title is the ``title`` attribute, else a heading that opens the
    callout (removed from the flow, so it is neither numbered nor in the table of
    contents), else the type's name ("Note").

    Parameters
    ----------
    doc : dict
        Pandoc JSON AST.

    Returns
    -------
    dict
        ``doc``; a callout becomes ``div.callout.callout-<type>`` holding
        ``div.callout-title`` and ``div.callout-body``.
    """
    for el in iter_elements(doc["blocks"]):
        if el["t"] != "Div":
            continue
        (ident, classes, attrs), content = el["c"]
        kind = next((c.split("-", 1)[1] for c in classes if c.startswith("callout-")
                     and c.split("-", 1)[1] in CALLOUT_TITLES), None)
        if kind is None or "callout-body" in classes:
            continue
        attr_map = dict(attrs)
        if "title" in attr_map:
            title = parse_markdown(attr_map["title"])["blocks"]
            title_inlines = title[0]["c"] if title else []
        elif content and content[0]["t"] == "Header":
            title_inlines = content.pop(0)["c"][2]
        else:
            title_inlines = [_str(CALLOUT_TITLES[kind])]
        new_classes = ["callout", *[c for c in classes if c != "callout"]]
        el["c"] = [[ident, new_classes, [a for a in attrs if a[0] != "title"]], [
            {"t": "Div", "c": [["", ["callout-title"], []], [{"t": "Plain", "c": [{"t": "Strong", "c": title_inlines}]}]]},
            {"t": "Div", "c": [["", ["callout-body"], []], content]},
        ]]
    return doc


# --------------------------------------------------------------------------- bibliography


def bibliography_paths(metadata: Mapping[str, Any], project: Mapping[str, Any], base: Path) -> list[Path]:
    """The bibliography files named by the front matter or ``_quarto.yml``, as paths."""
    value = quarto_option("bibliography", metadata, project)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [(base / str(v)) for v in values]


def bibliography_keys(path: Path) -> set[str]:
    """The citation keys of a ``.bib``/``.bibtex`` (parsed by pandoc), CSL ``.json`` or ``.yaml`` file."""
    suffix = path.suffix.lower()
    if suffix in (".json",):
        return {str(item["id"]) for item in json.loads(path.read_text(encoding="utf-8"))}
    if suffix in (".yaml", ".yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return {str(item["id"]) for item in data.get("references", [])}
    fmt = "bibtex" if suffix == ".bibtex" else "biblatex"
    items = json.loads(pypandoc.convert_file(str(path), "csljson", format=fmt, extra_args=["--quiet"]))
    return {str(item["id"]) for item in items}


# --------------------------------------------------------------------------- loading and checking


def _locate(source: SourceText, pattern: re.Pattern, root: Path) -> list[tuple[str, int]]:
    """Files and lines where ``pattern`` occurs, prose lines first, code lines after."""
    mask = source.code_mask()
    prose, code = [], []
    for line, origin, in_code in zip(source.lines, source.origins, mask):
        if pattern.search(line):
            (code if in_code else prose).append((_display(origin[0], root), origin[1]))
    return prose or code


def _key_pattern(key: str) -> re.Pattern:
    # A pandoc citation key ends before punctuation that is not followed by a word char.
    return re.compile(r"(?<![\w@])-?@" + re.escape(key) + r"(?![\w])(?![:.#$%&\-+?<>~/]\w)")


def load_manuscript(project_root: Path, qmd: str = "index.qmd", variables: str = "_variables.yml") -> Manuscript:
    """Resolve and parse a manuscript, collecting every problem instead of stopping at the first.

    Parameters
    ----------
    project_root : Path
        The Quarto project (holds ``_quarto.yml``, ``_variables.yml``).
    qmd : str
        The document, relative to the project root.
    variables : str
        The variables file, relative to the project root.

    Returns
    -------
    Manuscript
        With ``problems`` empty when everything resolves.
    """
    root = Path(project_root)
    qmd_path = root / qmd
    problems: list[Problem] = []
    if not qmd_path.is_file():
        problems.append(Problem(_display(qmd_path, root), None, "manuscript not found"))
        return Manuscript(root, qmd_path, {}, {}, SourceText(), SourceText(), {"blocks": [], "meta": {}}, problems)

    project = _load_yaml_config(root, problems)
    var_table = _load_variable_table(root / variables, root, problems)

    lines = qmd_path.read_text(encoding="utf-8").splitlines()
    fm_lines, body_start = split_front_matter(lines)
    front = SourceText(list(fm_lines), [(qmd_path, i + 2) for i in range(len(fm_lines))])
    metadata = _parse_front_matter(front, var_table, root, problems)

    included, include_problems = resolve_includes(qmd_path, root, skip_lines=body_start)
    body, var_problems = resolve_variables(included, var_table, root, metadata)
    problems += include_problems + var_problems

    doc = parse_markdown(body.text)
    # The front matter's own markdown (an abstract may cite); a YAML error was reported above.
    doc["meta"] = parse_metadata(metadata)
    resolve_callouts(doc)
    return Manuscript(root, qmd_path, metadata, project, body, front, doc, problems)


def _load_yaml_config(root: Path, problems: list[Problem]) -> dict[str, Any]:
    try:
        return load_project_config(root)
    except yaml.YAMLError as exc:
        problems.append(Problem("_quarto.yml", None, f"not valid YAML: {exc}"))
        return {}


def _load_variable_table(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return load_variables(path)
    except ValueError as exc:
        problems.append(Problem(_display(path, root), None, str(exc).split(": ", 1)[-1]))
        return {}


def _parse_front_matter(front: SourceText, var_table: Mapping[str, Any] | None, root: Path,
                        problems: list[Problem]) -> dict[str, Any]:
    """Parse the YAML front matter, then substitute shortcodes in its strings.

    Shortcodes are substituted after parsing (as Quarto does), so a value such as
    "n: 480" cannot break the YAML; problems are located on the raw lines.
    """
    if not front.lines:
        return {}
    try:
        raw = yaml.safe_load("\n".join(front.lines)) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        lineno = front.origins[line][1] if line is not None and line < len(front.origins) else None
        problems.append(Problem(_display(front.origins[0][0], root), lineno, f"front matter is not valid YAML: {exc}"))
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(_display(front.origins[0][0], root), front.origins[0][1],
                                "front matter is not a mapping"))
        return {}
    for line, origin in zip(front.lines, front.origins):
        substitute_shortcodes(line, var_table, raw, problems, (_display(origin[0], root), origin[1]))
    return _substitute_in_metadata(raw, var_table, raw)


def manuscript_problems(m: Manuscript) -> list[Problem]:
    """Every problem of a loaded manuscript: includes and variables (found while loading),
    duplicate and unknown cross-reference labels, unknown citation keys, missing images."""
    problems = list(m.problems)
    root = m.project_root
    source = SourceText(m.front.lines + m.body.lines, m.front.origins + m.body.origins)
    labels, duplicates = collect_labels(m.doc)
    for label in sorted(set(duplicates)):
        for path, line in _locate(source, re.compile(r"#" + re.escape(label) + r"(?![\w-])"), root)[1:2] or [
                (_display(m.qmd_path, root), None)]:
            problems.append(Problem(path, line, f"cross-reference label '{label}' defined more than once"))
    problems += _citation_problems(m, source, labels)
    problems += _front_matter_crossrefs(m)
    problems += _image_problems(m, source)
    csl = m.option("csl")
    if csl and not (m.qmd_path.parent / str(csl)).is_file():
        problems.append(Problem(_display(m.qmd_path, root), None, f"citation style (csl) {csl} not found"))
    return problems


def _front_matter_crossrefs(m: Manuscript) -> list[Problem]:
    """Cross-references in the front matter (an abstract's "@tbl-models", often from a
    variable): Quarto resolves them only in the body, so the rendered abstract would show
    "?@tbl-models". Reported at the line of the front matter that holds them."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.extend(re.findall(r"(?<![\w@.])@([A-Za-z]+-[\w-]*\w)", value))
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(m.metadata)
    problems = []
    for key in dict.fromkeys(k for k in found if is_crossref_key(k)):
        where = _locate(m.front, re.compile(r"@" + re.escape(key) + r"(?![\w-])"), m.project_root)
        path, line = where[0] if where else (_display(m.qmd_path, m.project_root), None)
        problems.append(Problem(path, line, f"cross-reference '@{key}' in the front matter: Quarto resolves "
                                            "cross-references only in the body (name the table or figure instead)"))
    return problems


def _citation_problems(m: Manuscript, source: SourceText, labels: Mapping[str, Label]) -> list[Problem]:
    root = m.project_root
    problems: list[Problem] = []
    keys_seen: list[str] = []
    for _, citation in crossref_citations(m.doc):
        if citation["citationId"] not in keys_seen:
            keys_seen.append(citation["citationId"])
    crossrefs = [k for k in keys_seen if is_crossref_key(k)]
    citations = [k for k in keys_seen if not is_crossref_key(k)]
    for key in crossrefs:
        if _lookup_label(key, labels) is None:
            for path, line in _locations(source, key, m, root):
                problems.append(Problem(path, line, f"unresolved cross-reference '@{key}': no element has the "
                                                    f"label #{key[:1].lower() + key[1:]}"))
    if not citations:
        return problems
    bib_keys, bib_problems = _bibliography(m)
    problems += bib_problems
    if bib_keys is None:
        return problems
    for key in citations:
        if key not in bib_keys:
            for path, line in _locations(source, key, m, root):
                bibs = ", ".join(_display(p, root) for p in bibliography_paths(m.metadata, m.project_config,
                                                                               m.qmd_path.parent))
                problems.append(Problem(path, line, f"unresolved citation '@{key}': key not in {bibs}"))
    return problems


def _locations(source: SourceText, key: str, m: Manuscript, root: Path) -> list[tuple[str, int | None]]:
    found = _locate(source, _key_pattern(key), root)
    return found or [(_display(m.qmd_path, root), None)]


def _bibliography(m: Manuscript) -> tuple[set[str] | None, list[Problem]]:
    """All citation keys of the bibliography files (None when there is no usable one)."""
    paths = bibliography_paths(m.metadata, m.project_config, m.qmd_path.parent)
    where = _display(m.qmd_path, m.project_root)
    if not paths:
        return None, [Problem(where, None, "the manuscript cites references but sets no bibliography")]
    keys: set[str] = set()
    problems = []
    for path in paths:
        if not path.is_file():
            problems.append(Problem(where, None, f"bibliography {_display(path, m.project_root)} not found"))
            continue
        try:
            keys |= bibliography_keys(path)
        except (RuntimeError, ValueError, KeyError, yaml.YAMLError) as exc:
            problems.append(Problem(_display(path, m.project_root), None, f"cannot read the bibliography: {exc}"))
    return (keys if not problems else None), problems


def _image_problems(m: Manuscript, source: SourceText) -> list[Problem]:
    """Local images that do not exist (Quarto resolves them from the main document's folder)."""
    problems = []
    seen = set()
    for el in iter_elements(m.doc["blocks"]):
        if el["t"] != "Image":
            continue
        target = el["c"][2][0]
        if target in seen or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue
        seen.add(target)
        local = unquote(target.split("#", 1)[0].split("?", 1)[0])
        path = m.project_root / local.lstrip("/") if local.startswith("/") else m.qmd_path.parent / local
        if not path.is_file():
            for where, line in _locate(source, re.compile(re.escape(target)), m.project_root) or [
                    (_display(m.qmd_path, m.project_root), None)]:
                problems.append(Problem(where, line, f"image '{target}' not found"))
    return problems


def check_manuscript(project_root: Path, qmd: str = "index.qmd", variables: str = "_variables.yml") -> list[str]:
    """Check that every include, variable, cross-reference, citation key and image resolves.

    Parameters
    ----------
    project_root : Path
        The Quarto project root.
    qmd : str
        The manuscript, relative to the root.
    variables : str
        The variables file, relative to the root.

    Returns
    -------
    list of str
        One human-readable problem per unresolved item ("tables/table1.md:3: unresolved
        variable 'cohort.n_total'"), sorted by file and line; empty when all resolves.
    """
    return ordered_problems(load_manuscript(Path(project_root), qmd, variables))


def ordered_problems(m: Manuscript) -> list[str]:
    """:func:`manuscript_problems` of a loaded manuscript as :func:`check_manuscript` lists them."""
    problems = manuscript_problems(m)
    ordered = sorted(dict.fromkeys(problems), key=lambda p: (p.path != _display(m.qmd_path, m.project_root),
                                                           p.path, p.line or 0))
    return [str(p) for p in ordered]
