"""Long answers as several Telegram messages, never breaking a fenced code block.

Telegram refuses a message longer than 4096 characters (counted in UTF-16 code units).
:func:`split_message` cuts Markdown text into pieces that fit, preferring a paragraph break,
then a line break, then a space; a piece that ends inside a ````` ``` ````` block closes the
fence and the next piece opens it again with the same info string (``python``), so each piece
renders as Markdown on its own.

The cut depends only on the text before it, so an answer that grows (a streamed one) keeps its
earlier pieces as they were: the bot edits the last message and sends a new one when a piece
is full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["TELEGRAM_LIMIT", "split_message", "utf16_len"]

TELEGRAM_LIMIT: Final = 4096
_FENCE_RE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(slots=True)
class _Fence:
    marker: str  # the opening run of backticks or tildes
    line: str  # the opening line as written, reopened in the next piece

    def closes(self, line: str) -> bool:
        stripped = line.strip()
        return (
            len(line) - len(line.lstrip(" ")) <= 3
            and bool(stripped)
            and set(stripped) == {self.marker[0]}
            and len(stripped) >= len(self.marker)
        )


def _fence_after(fence: _Fence | None, line: str) -> _Fence | None:
    """The open fence after ``line`` (given the one open before it)."""
    if fence is not None:
        return None if fence.closes(line) else fence
    match = _FENCE_RE.match(line)
    if match is None:
        return None
    return _Fence(match["fence"], line.strip())


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 units, code fences kept whole."""
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    lines = text.split("\n")
    pieces: list[str] = []
    fence: _Fence | None = None  # open where the next piece starts: reopened there
    i = 0
    while i < len(lines):
        body: list[str] = [fence.line] if fence is not None else []
        size = utf16_len(fence.line) if fence is not None else 0
        state = fence
        ends: list[
            tuple[int, int, _Fence | None, int, bool]
        ] = []  # (next i, lines, fence, size, para)
        opening: set[int] = set()  # ends right after a line that opens a fence
        j = i
        while j < len(lines):
            line = lines[j]
            after = _fence_after(state, line)
            grown = size + (1 if body else 0) + utf16_len(line)
            closing = utf16_len("\n" + after.marker) if after is not None else 0
            if grown + closing > limit:
                break
            body.append(line)
            opened = state is None and after is not None  # a piece must not end on this line
            size, state, j = grown, after, j + 1
            ends.append((j, len(body), state, size, not line.strip() and state is None))
            if opened:
                opening.add(j)
        if j == len(lines):
            pieces.append("\n".join(body))
            break
        if not ends or (len(ends) == 1 and ends[0][0] in opening):
            # one line longer than a piece (maybe right after its fence): cut it at a space
            i = j
            closing = utf16_len("\n" + state.marker) if state is not None else 0
            room = limit - size - (1 if body else 0) - closing
            head, tail = _cut(lines[i], max(room, 1))
            body.append(head)
            if state is not None:
                body.append(state.marker)
            pieces.append("\n".join(body))
            lines[i] = tail
            fence = state
            continue
        # End at the last paragraph break past half the limit, else after the last line.
        # (Never right after a fence opens: that would send an empty code block.)
        if len(ends) > 1 and ends[-1][0] in opening:
            ends.pop()
        chosen = ends[-1]
        for end in reversed(ends):
            if end[4] and end[3] >= limit // 2:
                chosen = end
                break
        nxt, count, state, _, _ = chosen
        body = body[:count]
        if state is not None:
            body.append(state.marker)
        pieces.append("\n".join(body))
        fence, i = state, nxt
        while fence is None and i < len(lines) and not lines[i].strip():
            i += 1  # no piece starts with blank lines
    return [piece.strip("\n") for piece in pieces if piece.strip()]


def _cut(line: str, room: int) -> tuple[str, str]:
    """``line`` cut to at most ``room`` UTF-16 units, at the last space when there is one."""
    head = line[:room]
    while utf16_len(head) > room:
        head = head[:-1]
    if len(head) < len(line):
        space = head.rfind(" ")
        if space > len(head) // 2:
            head = head[: space + 1]
    return head, line[len(head) :]
