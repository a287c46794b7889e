"""Export a document: Markdown (+ SVG files beside it), DOCX, PDF, Confluence storage format,
or the diagrams alone as SVG. No network, no LaTeX.

* ``md``: the Markdown with each diagram as ``![...](<stem>-N.svg)`` (its source kept in a
  ``<details>`` block); a diagram that does not render keeps its source and a warning.
* ``docx``: python-docx: real headings, lists, tables, code in a monospace style, diagrams as
  PNG pictures (SVG -> PNG with novasvg).
* ``pdf``: HTML + CSS through WeasyPrint (fonts embedded as subsets, diagrams as vector SVG).
* ``confluence``: XHTML storage format (``ac:``/``ri:`` elements; diagrams as
  ``<ac:image><ri:attachment .../></ac:image>`` with the SVG files written beside to attach;
  code in the code macro).
* ``svg``: each diagram as ``<stem>-N.svg`` (one diagram: exactly the path given).

Every file is written to a temporary file in the same directory and renamed over the target, so
an interrupted export never leaves a half-written file in place of an existing one; an existing
target needs ``force`` or a ``confirm`` callback that says yes.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_workbench.core.errors import InputError
from ai_workbench.documents.markdown import Block, blocks, split_front_matter
from ai_workbench.documents.storage import Document

FORMATS = ("md", "docx", "pdf", "confluence", "svg")
EXTENSIONS = {"md": ".md", "docx": ".docx", "pdf": ".pdf", "confluence": ".xhtml", "svg": ".svg"}
CSS = """
@page { size: A4; margin: 2cm;
        @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; line-height: 1.4; color: #222; }
h1 { font-size: 20pt; border-bottom: 2px solid #3465a4; padding-bottom: 4pt; }
h2 { font-size: 14pt; color: #204a87; margin-top: 16pt; }
h3 { font-size: 12pt; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0; }
th, td { border: 1px solid #999; padding: 3pt 5pt; vertical-align: top; font-size: 9.5pt; }
th { background: #eef2f7; }
pre { background: #f4f4f4; padding: 6pt; font-family: "DejaVu Sans Mono", monospace;
      font-size: 8.5pt;
      white-space: pre-wrap; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
img.diagram { max-width: 100%; max-height: 22cm; display: block; margin: 8pt auto; }
blockquote { border-left: 3px solid #c4a000; margin-left: 0; padding-left: 8pt; color: #555; }
table.meta td { border: none; padding: 1pt 8pt 1pt 0; }
"""


@dataclass
class Diagram:
    index: int
    block: Block
    svg: str | None
    error: str = ""
    seconds: float = 0.0


@dataclass
class ExportResult:
    path: Path
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:50].strip("-") or "document"


def default_path(doc: Document, fmt: str) -> Path:
    return Path.cwd() / f"{doc.doc_type}-{doc.id:04d}-{slug(doc.title)}{EXTENSIONS[fmt]}"


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def render_diagrams(body: str, timeout: float = 30.0) -> list[Diagram]:
    from ai_workbench.documents.render import RenderError, render_svg

    out = []
    for n, block in enumerate([b for b in blocks(body) if b.diagram], 1):
        try:
            r = render_svg(block.diagram or "", block.text, timeout=timeout)
            out.append(Diagram(n, block, r.svg, seconds=r.seconds))
        except RenderError as exc:
            out.append(Diagram(n, block, None, str(exc)))
    return out


def export_document(
    doc: Document,
    fmt: str,
    out: Path | None = None,
    *,
    force: bool = False,
    confirm: Callable[[Path], bool] | None = None,
    timeout: float = 30.0,
) -> ExportResult:
    if fmt not in FORMATS:
        raise InputError(f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")
    started = time.perf_counter()
    target = Path(out).expanduser() if out else default_path(doc, fmt)
    if target.is_dir():
        target = target / default_path(doc, fmt).name
    if not target.suffix:
        target = target.with_suffix(EXTENSIONS[fmt])
    if not target.is_absolute():
        target = Path.cwd() / target
    files, warnings = build_export(doc, fmt, target, timeout=timeout)
    existing = [p for p in files if p.exists()]
    if existing and not force:
        for p in existing:
            if confirm is None or not confirm(p):
                raise InputError(f"{p} exists: use --force to replace it (nothing was written)")
    # the main file last: a reader of it finds its images in place
    ordered = [p for p in files if p != target] + ([target] if target in files else [])
    for p in ordered:
        atomic_write(p, files[p])
    return ExportResult(
        target if target in files else ordered[0], ordered, warnings, time.perf_counter() - started
    )


def build_export(
    doc: Document, fmt: str, target: Path, *, timeout: float = 30.0, inline: bool = False
) -> tuple[dict[Path, bytes], list[str]]:
    """The files an export of ``doc`` to ``target`` is made of (the main one last; nothing is
    written) and its warnings. ``inline`` (md only): each diagram's SVG inside the Markdown as
    a ``data:image/svg+xml;base64`` image, so the export is that one file."""
    if fmt not in FORMATS:
        raise InputError(f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")
    diagrams = render_diagrams(doc.body, timeout)
    warnings = [
        f"diagram {d.index} ({d.block.diagram}) did not render: {d.error}"
        for d in diagrams
        if d.svg is None
    ]
    files: dict[Path, bytes] = {}
    stem = target.with_suffix("")
    svg_names = {d.index: f"{stem.name}-{d.index}.svg" for d in diagrams}
    if fmt == "md" and inline:
        import base64

        svg_names = {
            d.index: "data:image/svg+xml;base64," + base64.b64encode(d.svg.encode()).decode()
            for d in diagrams
            if d.svg is not None
        }
    elif fmt in ("md", "confluence", "svg"):
        ok = [d for d in diagrams if d.svg is not None]
        if fmt == "svg":
            if not diagrams:
                raise InputError(f"document {doc.id} has no diagram to export as SVG")
            if not ok:
                raise InputError(f"no diagram of document {doc.id} renders: {warnings[0]}")
            if len(ok) == 1:
                files[target] = (ok[0].svg or "").encode()
            else:
                for d in ok:
                    files[target.with_name(svg_names[d.index])] = (d.svg or "").encode()
        else:
            for d in ok:
                files[target.with_name(svg_names[d.index])] = (d.svg or "").encode()
    if fmt == "md":
        files[target] = to_markdown(doc.body, diagrams, svg_names).encode()
    elif fmt == "confluence":
        files[target] = to_confluence(doc, diagrams, svg_names).encode()
    elif fmt == "docx":
        files[target] = to_docx(doc, diagrams)
    elif fmt == "pdf":
        files[target] = to_pdf(doc, diagrams)
    if target in files:
        files[target] = files.pop(target)
    return files, warnings


# ---------------------------------------------------------------- Markdown


def _replace_blocks(
    body: str, make: Callable[[Diagram], list[str]], diagrams: list[Diagram]
) -> str:
    lines = body.split("\n")
    by_start = {d.block.start: d for d in diagrams}
    for start in sorted(by_start, reverse=True):
        d = by_start[start]
        if d.svg is None:
            continue
        lines[d.block.start : d.block.end + 1] = make(d)
    return "\n".join(lines)


def to_markdown(body: str, diagrams: list[Diagram], names: dict[int, str]) -> str:
    def make(d: Diagram) -> list[str]:
        return [
            f"![Diagram {d.index}]({names[d.index]})",
            "",
            "<details><summary>Diagram source</summary>",
            "",
            f"```{d.block.lang}",
            d.block.text,
            "```",
            "",
            "</details>",
        ]

    return _replace_blocks(body, make, diagrams)


# ---------------------------------------------------------------- HTML (PDF, Confluence)


def _md() -> Any:
    from markdown_it import MarkdownIt

    return (
        MarkdownIt("commonmark", {"xhtmlOut": True, "html": False})
        .enable("table")
        .enable("strikethrough")
    )


def _meta_html(meta: dict[str, str]) -> str:
    if not meta:
        return ""
    rows = "".join(
        f"<tr><td><strong>{html.escape(k)}</strong></td><td>{html.escape(v)}</td></tr>"
        for k, v in meta.items()
    )
    return f'<table class="meta"><tbody>{rows}</tbody></table>'


def to_html(doc: Document, diagrams: list[Diagram], image_src: Callable[[Diagram], str]) -> str:
    meta, body = split_front_matter(doc.body)
    offset = doc.body.count("\n") - body.count("\n")
    marker = {}
    lines = body.split("\n")
    for d in diagrams:
        if d.svg is None:
            continue
        key = f"AIWDIAGRAM{d.index}X"
        marker[key] = d
        start, end = d.block.start - offset, d.block.end - offset
        lines[start : end + 1] = [key, ""] + [""] * (end - start - 1)
    rendered = _md().render("\n".join(lines))
    for key, d in marker.items():
        img = f'<img class="diagram" src="{html.escape(image_src(d))}" alt="Diagram {d.index}" />'
        rendered = rendered.replace(f"<p>{key}</p>", img)
    title_end = rendered.find("</h1>")
    meta_html = _meta_html(meta)
    if meta_html and title_end >= 0:
        rendered = rendered[: title_end + 5] + meta_html + rendered[title_end + 5 :]
    elif meta_html:
        rendered = meta_html + rendered
    return rendered


def to_pdf(doc: Document, diagrams: list[Diagram]) -> bytes:
    from weasyprint import HTML

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for d in diagrams:
            if d.svg is not None:
                p = Path(tmp, f"d{d.index}.svg")
                p.write_text(d.svg, encoding="utf-8")
                paths[d.index] = p.as_uri()
        body = to_html(doc, diagrams, lambda d: paths[d.index])
        page = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/><title>{html.escape(doc.title)}'  # noqa: E501
            f"</title><style>{CSS}</style></head><body>{body}</body></html>"
        )
        return bytes(HTML(string=page, base_url=tmp).write_pdf())


CONFLUENCE_NS = (
    'xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier"'
)


def to_confluence(doc: Document, diagrams: list[Diagram], names: dict[int, str]) -> str:
    """Confluence storage format (XHTML): paste into the editor's source view or the REST
    API's ``storage`` body; attach the SVG files written beside it."""
    meta, body = split_front_matter(doc.body)
    md = _md()

    # markdown-it binds a render rule to the renderer: it is called as a method
    def fence(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tok = tokens[idx]
        lang = (tok.info or "").strip().split(" ")[0]
        content = tok.content.replace("]]>", "]]]]><![CDATA[>")
        param = (
            f'<ac:parameter ac:name="language">{html.escape(lang)}</ac:parameter>' if lang else ""
        )
        return (
            f'<ac:structured-macro ac:name="code">{param}'
            f"<ac:plain-text-body><![CDATA[{content}]]></ac:plain-text-body></ac:structured-macro>\n"
        )

    md.add_render_rule("fence", fence)
    lines = body.split("\n")
    offset = doc.body.count("\n") - body.count("\n")
    marker = {}
    for d in diagrams:
        if d.svg is None:
            continue
        key = f"AIWDIAGRAM{d.index}X"
        marker[key] = d
        start, end = d.block.start - offset, d.block.end - offset
        lines[start : end + 1] = [key, ""] + [""] * (end - start - 1)
    out = md.render("\n".join(lines))
    for key, d in marker.items():
        out = out.replace(
            f"<p>{key}</p>",
            f'<ac:image ac:alt="Diagram {d.index}"><ri:attachment ri:filename="{html.escape(names[d.index])}" /></ac:image>',  # noqa: E501
        )
    return _meta_html(meta) + out


# ---------------------------------------------------------------- DOCX


def to_docx(doc: Document, diagrams: list[Diagram]) -> bytes:
    import io

    import docx
    from docx.shared import Pt

    from ai_workbench.documents.render import svg_to_png

    meta, body = split_front_matter(doc.body)
    offset = doc.body.count("\n") - body.count("\n")
    images = {d.block.start - offset: d for d in diagrams if d.svg is not None}
    document = docx.Document()
    document.core_properties.title = doc.title
    document.core_properties.subject = (
        f"{doc.doc_type.upper()} (template {doc.template} v{doc.template_version})"
    )
    styles = document.styles
    if "AIW Code" not in [s.name for s in styles]:
        from docx.enum.style import WD_STYLE_TYPE

        code = styles.add_style("AIW Code", WD_STYLE_TYPE.PARAGRAPH)
        code.font.name = "DejaVu Sans Mono"
        code.font.size = Pt(8.5)
    tokens = _md().parse(body)
    writer = _DocxWriter(document, images, svg_to_png)
    writer.meta = meta
    writer.run(tokens)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


class _DocxWriter:
    def __init__(
        self, document: Any, images: dict[int, Diagram], to_png: Callable[[str], bytes]
    ) -> None:
        self.d = document
        self.images = images
        self.to_png = to_png
        self.meta: dict[str, str] = {}
        self.lists: list[str] = []
        self.quote = 0

    def run(self, tokens: list[Any]) -> None:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            t = tok.type
            if t == "heading_open":
                level = int(tok.tag[1])
                text = _plain(tokens[i + 1])
                self.d.add_heading(text, level=0 if level == 1 else min(level - 1, 9))
                if level == 1 and self.meta:
                    self._meta_table()
                i += 3
                continue
            if t in ("bullet_list_open", "ordered_list_open"):
                self.lists.append("List Bullet" if t == "bullet_list_open" else "List Number")
            elif t in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif t == "blockquote_open":
                self.quote += 1
            elif t == "blockquote_close":
                self.quote -= 1
            elif t == "paragraph_open":
                inline = tokens[i + 1]
                style = None
                if self.lists:
                    depth = len(self.lists)
                    style = self.lists[-1] + (f" {min(depth, 3)}" if depth > 1 else "")
                elif self.quote:
                    style = "Quote"
                p = self.d.add_paragraph(style=style)
                self._inline(p, inline)
                i += 3
                continue
            elif t in ("fence", "code_block"):
                self._code(tok)
            elif t == "table_open":
                i = self._table(tokens, i)
                continue
            elif t == "hr":
                self.d.add_paragraph("―" * 20)
            i += 1

    def _meta_table(self) -> None:
        table = self.d.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for k, v in self.meta.items():
            cells = table.add_row().cells
            cells[0].text, cells[1].text = k, v
        self.meta = {}

    def _code(self, tok: Any) -> None:
        from docx.shared import Inches

        start = tok.map[0] if tok.map else -1
        d = self.images.get(start)
        if d is not None and d.svg is not None:
            import io

            self.d.add_picture(io.BytesIO(self.to_png(d.svg)), width=Inches(6))
            self.d.add_paragraph(f"Diagram {d.index}", style="Caption")
            return
        self.d.add_paragraph(tok.content.rstrip("\n"), style="AIW Code")

    def _table(self, tokens: list[Any], i: int) -> int:
        rows: list[list[Any]] = []
        header_rows = 0
        in_head = False
        j = i + 1
        while tokens[j].type != "table_close":
            t = tokens[j].type
            if t == "thead_open":
                in_head = True
            elif t == "thead_close":
                in_head = False
            elif t == "tr_open":
                rows.append([])
                header_rows += 1 if in_head else 0
            elif t == "inline":
                rows[-1].append(tokens[j])
            j += 1
        cols = max((len(r) for r in rows), default=0)
        if cols:
            table = self.d.add_table(rows=len(rows), cols=cols)
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, inline in enumerate(row):
                    p = table.cell(r, c).paragraphs[0]
                    self._inline(p, inline, bold=r < header_rows)
        return j + 1

    def _inline(self, p: Any, inline: Any, bold: bool = False) -> None:
        strong = em = 0
        for child in inline.children or []:
            t = child.type
            if t == "text":
                run = p.add_run(child.content)
                run.bold = bool(strong) or bold or None
                run.italic = bool(em) or None
            elif t == "code_inline":
                run = p.add_run(child.content)
                run.font.name = "DejaVu Sans Mono"
            elif t == "strong_open":
                strong += 1
            elif t == "strong_close":
                strong -= 1
            elif t == "em_open":
                em += 1
            elif t == "em_close":
                em -= 1
            elif t in ("softbreak", "hardbreak"):
                p.add_run(" " if t == "softbreak" else "\n")


def _plain(inline: Any) -> str:
    return "".join(c.content for c in (inline.children or []) if c.type in ("text", "code_inline"))
