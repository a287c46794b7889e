"""Terminal-safe text: strip control sequences from untrusted strings before they are shown.

Model answers, provider error bodies, file names and anything else aiw did not write itself can
carry terminal control sequences: OSC 52 writes the clipboard, OSC 0 sets the window title,
OSC 8 makes a link whose target differs from its text, CSI sequences clear the screen or move
the cursor to overwrite what was shown. :func:`strip_controls` removes them all, whole:

* ESC sequences: CSI (``ESC [ … final``), the string sequences OSC, DCS, SOS, PM and APC
  (``ESC ] … BEL`` or ``… ESC \\``) with their content, and every other ``ESC x`` escape;
* their 8-bit forms (``0x9b`` CSI, ``0x9d`` OSC, …) and every other C1 control (0x80-0x9f);
* every C0 control but newline and tab (so also CR, backspace, BEL and a lone ESC), and DEL.

An unterminated string sequence loses only its introducer; its text stays, as plain text.
aiw's own styling is added afterwards (rich renders the cleaned text), so it is unaffected.

A stream may split a sequence across chunks: :class:`StreamSanitizer` holds back an incomplete
trailing sequence (at most ``max_hold`` characters) until the next chunk completes it.
"""

from __future__ import annotations

import re

__all__ = ["StreamSanitizer", "has_controls", "strip_controls", "strip_controls_deep"]

_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but \t and \n, DEL, C1
_ANY_CONTROL = re.compile(f"[{_CONTROLS}]")
_STRING_BODY = r"[^\x07\x1b\x9c]*"
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: parameters, intermediates, final byte
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    # OSC, DCS, SOS, PM, APC with their text, up to BEL or ST
    rf"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]){_STRING_BODY}(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"  # every other escape sequence (charsets, keypad modes, reset, ...)
    rf"|[{_CONTROLS}]"  # what is left: a lone ESC, other C0, DEL, C1
)
# A sequence cut off by the end of the text: what a later chunk may still complete.
_INCOMPLETE = re.compile(
    rf"(?:\x1b(?:\[[0-?]*[ -/]*|[ -/]+|[\]PX^_]{_STRING_BODY}\x1b?)?"
    rf"|\x9b[0-?]*[ -/]*|[\x90\x98\x9d\x9e\x9f]{_STRING_BODY}\x1b?)\Z"
)
_INTRODUCER = re.compile(r"[\x1b\x90\x98\x9b\x9d\x9e\x9f]")


def has_controls(text: str) -> bool:
    """Whether ``text`` holds anything :func:`strip_controls` would remove."""
    return _ANY_CONTROL.search(text) is not None


def strip_controls(text: str) -> str:
    """``text`` without terminal control sequences and control characters (but ``\\n``, ``\\t``)."""
    if not text or _ANY_CONTROL.search(text) is None:
        return text
    return _SEQUENCE.sub("", text)


class StreamSanitizer:
    """:func:`strip_controls` for text that arrives in pieces.

    ``feed`` returns the clean text that can be shown now; an incomplete sequence at the end is
    held back until a later piece completes it. ``flush`` returns what is left at the end.
    """

    __slots__ = ("_held", "max_hold")

    def __init__(self, max_hold: int = 4096) -> None:
        self.max_hold = max_hold
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk if self._held else chunk
        self._held = ""
        if _ANY_CONTROL.search(text) is None:
            return text
        window = max(0, len(text) - self.max_hold)
        for intro in _INTRODUCER.finditer(text, window):
            if _INCOMPLETE.match(text, intro.start()):
                self._held = text[intro.start() :]
                return strip_controls(text[: intro.start()])
        return strip_controls(text)

    def flush(self) -> str:
        """The held-back tail, cleaned (an incomplete sequence loses its introducer)."""
        held, self._held = self._held, ""
        return strip_controls(held)


def strip_controls_deep(value: object) -> object:
    """:func:`strip_controls` on every string inside decoded JSON (dicts, lists, strings).

    JSON from a model may spell a control character as an escape (``"\\u001b]52;…"``) that the
    decoder turns into the real thing, so decoded replies are cleaned again.
    """
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {strip_controls_deep(k): strip_controls_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_controls_deep(v) for v in value]
    return value
