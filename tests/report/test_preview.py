"""radsurv.report.preview and render: the pandoc preview of the tiny manuscript, and renderer choice."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from radsurv.report import ManuscriptError, RenderError, find_quarto, render_manuscript, render_preview

from ._manuscript import INDEX_QMD, make_manuscript


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = make_manuscript(tmp_path_factory.mktemp("paper"))
    out = render_preview(root, root / "build" / "index.html")
    return root, out.read_text(encoding="utf-8")


def _link(target: str, text: str) -> re.Pattern:
    return re.compile(r'<a href="#' + re.escape(target) + r'" class="quarto-xref">' + re.escape(text) + "</a>")


def _body(html: str) -> str:
    return html.split("<body>", 1)[1].replace("\n", " ")


def test_variables_resolved_everywhere(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    body = _body(html)
    assert "We studied 480 patients (profile quick)." in body  # abstract
    assert "The cohort had 480 patients" in body  # text
    assert "<td>480</td>" in body and "<td>21.3%</td>" in body  # included table
    assert "Baseline characteristics of the 480 patients." in body  # table caption
    assert "Kaplan-Meier curve of 480 patients." in body  # figure caption
    assert "Table note: profile quick." in body  # nested include
    assert "{{&lt;" not in body.replace("{{&lt; var cohort.n_total &gt;}} is how", "")


def test_crossrefs_numbered_and_linked(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    body = _body(html)
    assert _link("fig-km", "Figure 1").search(body)
    assert _link("fig-flow", "Figure 2").search(body)
    assert _link("tbl-table1", "Table 1").search(body)
    assert _link("sec-methods", "Section 2").search(body)
    assert _link("fig-km", "1").search(body)  # -@fig-km
    assert re.search(r'<figure id="fig-km">.*?<figcaption><span class="caption-label">Figure 1:</span> '
                     r"Kaplan-Meier", body)
    assert re.search(r'<figure id="fig-flow">.*?<figcaption><span class="caption-label">Figure 2:</span>', body)
    assert re.search(r'<table id="tbl-table1">\s*<caption><span class="caption-label">Table 1:</span>', body)
    assert re.search(r'<section id="sec-methods"[^>]*>\s*<h2[^>]*><span class="header-section-number">2</span>',
                     body)
    assert not re.search(r"@(fig|tbl|sec|eq)-", body)


def test_citations_bibliography_and_title_block(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    body = _body(html)
    assert "Lambin and Leijenaar 2017" in body and "Harrell et al." in body
    assert 'id="refs"' in body and 'id="ref-lambin2017"' in body and 'id="ref-harrell1996"' in body
    assert "@lambin2017" not in body and "@harrell1996" not in body
    assert '<h1 class="title">Radiomics for disease-free survival</h1>' in body
    assert "Ada Lovelace" in body and "Bletchley Park" in body and "Analytical Engine Institute" in body
    assert "<strong>Keywords:</strong> radiomics; survival" in body
    assert '<nav id="TOC"' in body
    assert "code-fold" not in html and "execute" not in body  # Quarto-only keys are not passed on


def test_images_embedded_and_callout_boxed(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    assert html.count('src="data:image/png;base64,') == 2
    assert 'src="figures/' not in html
    assert "<link" not in html  # the stylesheet is inlined too
    assert '<div class="callout callout-note">' in html
    assert re.search(r'<div class="callout-title">\s*<strong>Reproducibility</strong>', html)
    assert ".callout-note" in html  # our CSS


def test_same_inputs_same_bytes_even_elsewhere(rendered: tuple[Path, str], tmp_path: Path) -> None:
    root, html = rendered
    again = render_preview(root, tmp_path / "again.html").read_bytes()
    assert again == html.encode("utf-8")
    moved = tmp_path / "elsewhere"
    shutil.copytree(root, moved, ignore=shutil.ignore_patterns("build"))
    assert render_preview(moved, tmp_path / "moved.html").read_bytes() == again


def test_unresolved_items_raise_before_writing(tmp_path: Path) -> None:
    root = make_manuscript(tmp_path / "paper")
    (root / "index.qmd").write_text(
        INDEX_QMD.replace("@sec-methods", "@sec-nope").replace("{{< var run.profile >}}", "{{< var run.nope >}}"),
        encoding="utf-8")
    out = tmp_path / "out" / "index.html"
    with pytest.raises(ManuscriptError) as info:
        render_preview(root, out)
    message = str(info.value)
    assert "2 problem(s)" in message
    assert "unresolved variable 'run.nope'" in message and "unresolved cross-reference '@sec-nope'" in message
    assert not out.exists()


def test_render_manuscript_preview_and_missing_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_manuscript(tmp_path / "paper")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    assert find_quarto() is None
    with pytest.raises(RenderError, match="Quarto is not installed"):
        render_manuscript(root, tmp_path / "out", renderer="quarto")
    result = render_manuscript(root, tmp_path / "out", renderer="auto")
    assert result.renderer == "preview" and result.output == tmp_path / "out" / "index.html"
    assert result.output.is_file()
    with pytest.raises(ValueError, match="renderer must be one of"):
        render_manuscript(root, tmp_path / "out", renderer="latex")


def test_find_quarto_honours_quarto_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "quarto" / "bin" / "quarto"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("QUARTO_PATH", str(tmp_path / "quarto"))
    assert find_quarto() == str(fake)
    monkeypatch.setenv("QUARTO_PATH", str(fake))
    assert find_quarto() == str(fake)


def _stand_in_quarto(bin_dir: Path, exit_code: int = 0) -> Path:
    """A `quarto` executable that records how it was called and writes the article, as
    `quarto render` of a manuscript project does (Quarto itself cannot be installed here)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "quarto"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" > called-with.txt\n'
        'pwd >> called-with.txt\n'
        f"if [ {exit_code} -ne 0 ]; then echo 'ERROR: compilation failed on purpose' >&2; exit {exit_code}; fi\n"
        "mkdir -p _manuscript && echo '<html>rendered by the stand-in</html>' > _manuscript/index.html\n")
    script.chmod(0o755)
    return script


def test_auto_renders_with_quarto_when_it_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default renderer of `make paper` where Quarto exists: `quarto render` in the
    project root, and the article at _manuscript/index.html."""
    root = make_manuscript(tmp_path / "paper")
    _stand_in_quarto(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    result = render_manuscript(root, tmp_path / "out", renderer="auto")
    assert result.renderer == "quarto" and result.output == root / "_manuscript" / "index.html"
    args, cwd = (root / "called-with.txt").read_text(encoding="utf-8").splitlines()
    assert args == "render" and Path(cwd).resolve() == root.resolve()
    assert not (tmp_path / "out" / "index.html").exists()   # no preview when Quarto rendered


def test_a_failing_quarto_render_is_reported_with_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_manuscript(tmp_path / "paper")
    _stand_in_quarto(tmp_path / "bin", exit_code=3)
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    with pytest.raises(RenderError, match=r"(?s)quarto render failed .*exit code 3.*compilation failed on purpose"):
        render_manuscript(root, tmp_path / "out", renderer="auto")


@pytest.mark.skipif(shutil.which("quarto") is None, reason="Quarto is not installed")
def test_render_manuscript_with_quarto(tmp_path: Path) -> None:
    root = make_manuscript(tmp_path / "paper")
    result = render_manuscript(root, tmp_path / "out", renderer="quarto")
    assert result.renderer == "quarto"
    assert result.output == root / "_manuscript" / "index.html"
    html = result.output.read_text(encoding="utf-8")
    assert "480" in html and "fig-km" in html


def test_quarto_from_radsurv_skips_the_prerender_and_finds_radsurv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """_quarto.yml's pre-render command is `radsurv prerender`: when radsurv itself calls
    Quarto it has just published, so the step must be told to skip, and `radsurv` must be
    on Quarto's PATH even when the environment was not activated."""
    root = make_manuscript(tmp_path / "paper")
    script = _stand_in_quarto(tmp_path / "bin")
    script.write_text(script.read_text(encoding="utf-8").replace(
        "pwd >> called-with.txt\n",
        'pwd >> called-with.txt\necho "$RADSURV_PRERENDER" > env.txt\ncommand -v radsurv >> env.txt\n'))
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + "/usr/bin:/bin")
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    monkeypatch.delenv("RADSURV_PRERENDER", raising=False)
    render_manuscript(root, tmp_path / "out", renderer="auto")
    skip, radsurv = (root / "env.txt").read_text(encoding="utf-8").splitlines()
    assert skip == "skip" and Path(radsurv).parent == Path(sys.executable).parent
    assert os.environ.get("RADSURV_PRERENDER") is None   # only the child's environment


def test_the_project_prerenders_with_radsurv_and_has_no_scholar_tags(root: Path) -> None:
    import yaml

    config = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["project"]["pre-render"] == "radsurv prerender"
    assert config["google-scholar"] is False
