"""Reading a generated document: front matter, level-2 sections and fenced diagram blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
DIAGRAM_INFO = {"mermaid": "mermaid", "plantuml": "plantuml", "puml": "plantuml", "d2": "d2"}


@dataclass
class Block:
    """A fenced code block: its language (info string's first word), text and line span."""

    lang: str
    text: str
    start: int  # line index of the opening fence
    end: int  # line index of the closing fence (inclusive)

    @property
    def diagram(self) -> str | None:
        return DIAGRAM_INFO.get(self.lang)


@dataclass
class ParsedDoc:
    title: str = ""
    front_matter: dict[str, str] = field(default_factory=dict)
    preamble: str = ""  # text between the title and the first section
    sections: dict[str, str] = field(default_factory=dict)  # heading -> body, in order

    def section(self, name: str) -> str | None:
        """A section's body by name (case-insensitive; a heading that starts with it counts)."""
        wanted = name.strip().lower()
        for heading, body in self.sections.items():
            if heading.lower() == wanted:
                return body
        for heading, body in self.sections.items():
            h = heading.lower()
            if h.startswith(wanted) or wanted.startswith(h) or wanted in h:
                return body
        return None


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            meta: dict[str, str] = {}
            for line in lines[1:i]:
                if ":" in line:
                    key, value = line.split(":", 1)
                    meta[key.strip()] = value.strip().strip("\"'")
            return meta, "\n".join(lines[i + 1 :]).lstrip("\n")
    return {}, text


def blocks(text: str) -> list[Block]:
    """Every fenced code block, in order (an unclosed fence runs to the end)."""
    out: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        lang = (m.group("info").strip().split() or [""])[0].lower()
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            j += 1
        out.append(Block(lang, "\n".join(lines[i + 1 : j]), i, min(j, len(lines) - 1)))
        i = j + 1
    return out


def close_fences(text: str) -> str:
    """The text with a fence left open at its end closed: a reply that ends inside a code
    block (or opens a stray one) must not swallow the sections put after it."""
    lines = text.rstrip("\n").split("\n")
    for b in blocks(text.rstrip("\n")):
        if b.end == len(lines) - 1:
            m = FENCE.match(lines[b.start])
            close = m.group("fence") if m else "```"
            last = lines[-1].strip()
            closed = b.end > b.start and last.startswith(close) and not last.strip(close[0])
            if not closed:
                return text.rstrip("\n") + "\n" + close + "\n"
    return text


def diagrams(text: str) -> list[Block]:
    return [b for b in blocks(text) if b.diagram]


def parse(text: str) -> ParsedDoc:
    """Split a document at its level-2 headings (outside code fences)."""
    meta, body = split_front_matter(text)
    doc = ParsedDoc(front_matter=meta)
    fenced: set[int] = set()
    for b in blocks(body):
        fenced.update(range(b.start, b.end + 1))
    current: str | None = None
    buf: list[str] = []
    pre: list[str] = []
    for n, line in enumerate(body.split("\n")):
        if n not in fenced and line.startswith("# ") and not doc.title and current is None:
            doc.title = line[2:].strip()
            continue
        if n not in fenced and re.match(r"^##\s+\S", line) and not line.startswith("###"):
            if current is not None:
                doc.sections[current] = "\n".join(buf).strip()
            current = _heading(line)
            buf = []
            continue
        (buf if current is not None else pre).append(line)
    if current is not None:
        doc.sections[current] = "\n".join(buf).strip()
    doc.preamble = "\n".join(pre).strip()
    return doc


def _heading(line: str) -> str:
    text = line.lstrip("#").strip()
    text = re.sub(r"^\d+(\.\d+)*[.)]?\s+", "", text)  # "2. Decision Drivers"
    return text.strip("*_ ").strip()


def strip_outer_fence(reply: str) -> str:
    """A reply wrapped whole in ```markdown ... ``` loses the wrapper."""
    text = reply.strip()
    m = re.match(r"^(`{3,}|~{3,})\s*(markdown|md)?\s*\n(.*)\n\1\s*$", text, re.S | re.I)
    return m.group(3) if m else text
