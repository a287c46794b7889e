"""SRT and WebVTT transcripts: cues with their times, grouped into chunks of about a minute,
each cited by the file and the time it starts (``…#t=00:12:34``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TIME = re.compile(
    r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
)
_TAG = re.compile(r"<[^>]+>")
CHUNK_SECONDS = 60.0
CHUNK_CHARS = 2000


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    line: int  # 1-based line of the cue's timing line


@dataclass(frozen=True)
class Passage:
    start: float
    end: float
    first_line: int
    last_line: int
    text: str


def _seconds(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def stamp(seconds: float) -> str:
    """00:12:34"""
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def parse_cues(text: str) -> list[Cue]:
    """The cues of an SRT or VTT file (headers, numbers, NOTE/STYLE blocks and tags dropped)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        match = _TIME.search(lines[i])
        if not match:
            i += 1
            continue
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        at = i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip():
            if _TIME.search(lines[i]):
                break
            body.append(_TAG.sub("", lines[i]).strip())
            i += 1
        words = " ".join(b for b in body if b)
        if words:
            cues.append(Cue(start, end, words, at))
    return cues


def passages(cues: list[Cue]) -> list[Passage]:
    """Consecutive cues grouped into passages of about ``CHUNK_SECONDS`` (or
    ``CHUNK_CHARS``), each line of text prefixed with its time."""
    out: list[Passage] = []
    group: list[Cue] = []
    size = 0

    def close() -> None:
        if group:
            text = "\n".join(f"[{stamp(c.start)}] {c.text}" for c in group)
            out.append(Passage(group[0].start, group[-1].end, group[0].line, group[-1].line, text))

    for cue in cues:
        if group and (cue.start - group[0].start >= CHUNK_SECONDS or size >= CHUNK_CHARS):
            close()
            group, size = [], 0
        group.append(cue)
        size += len(cue.text)
    close()
    return out
