"""``path:start-end`` citations in grounded answers: found in text, mapped to indexed chunks,
and checked against the excerpts that were sent (:func:`check_citations`).

A grounded answer's citations are only worth something when they point into what the model
was shown. aiw knows which ``path:start-end`` excerpts it sent (the ``### path:start-end``
headers of the grounding section, :func:`sent_sources`), so every citation in the answer is
checked: inside a sent excerpt (right), in a sent file but outside its excerpts, or in a file
that was not sent (wrong). An answer that cites nothing is asked once which excerpts it used
(:data:`CITE_REQUEST`); what is still missing or wrong is said in a note under the answer
(:meth:`CitationCheck.note`), which the CLI prints and the session stores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CITE_REQUEST",
    "NOTE_SEPARATOR",
    "Citation",
    "CitationCheck",
    "check_citations",
    "citations",
    "cite_request",
    "sent_sources",
    "strip_note",
]

# path:12 or path:12-30, the path with at least one "/" or a file extension; optional backticks.
_CITATION = re.compile(
    r"`?(?P<path>[\w.\-/]*[\w\-]\.[\w]+|[\w.\-]+/[\w.\-/]+):(?P<a>\d+)(?:-(?P<b>\d+))?`?"
)


@dataclass(frozen=True, slots=True)
class Citation:
    path: str
    start: int
    end: int
    url: str = field(default="", compare=False)  # a source's page/issue/transcript link

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start}" + (f"-{self.end}" if self.end != self.start else "")


def citations(text: str, root: Path | None = None) -> list[Citation]:
    """Cited locations in ``text``, in order, without duplicates; only existing files when
    ``root`` is given (so a URL's port or a time of day is not taken for one)."""
    found: list[Citation] = []
    for match in _CITATION.finditer(text):
        path = match.group("path")
        path = path[2:] if path.startswith("./") else path
        start = int(match.group("a"))
        end = int(match.group("b") or start)
        if root is not None and not (root / path).is_file():
            continue
        item = Citation(path, start, max(start, end))
        if item not in found:
            found.append(item)
    return found


# The grounding section's excerpt headers: "### path:start-end" (+ " (title)").
# Excerpts from a source (aiw sources) end with their URL: "### path:start-end (title) <url>".
_HEADER = re.compile(
    r"^### (?P<path>\S+?):(?P<a>\d+)-(?P<b>\d+)(?: \(.*?\))?(?: <(?P<url>[^>\s]+)>)?\s*$", re.M
)
KNOWLEDGE_HEADING = "## Project knowledge (retrieved excerpts)"


def sent_sources(section: str) -> list[Citation]:
    """The excerpts a grounding section holds (its ``### path:start-end`` headers), in order;
    nothing for a context section that is not project knowledge."""
    if not section.lstrip().startswith(KNOWLEDGE_HEADING):
        return []
    found: list[Citation] = []
    for match in _HEADER.finditer(section):
        item = Citation(
            match.group("path"), int(match.group("a")), int(match.group("b")),
            match.group("url") or "",
        )  # fmt: skip
        if item not in found:
            found.append(item)
    return found


@dataclass
class CitationCheck:
    """How an answer's citations compare with the excerpts that were sent."""

    sent: list[Citation]
    right: list[Citation] = field(default_factory=list)
    wrong: list[tuple[Citation, str]] = field(default_factory=list)  # (citation, why)
    asked: bool = False  # the answer cited nothing, so the model was asked which it used
    ask_error: str | None = None  # why asking failed (the answer's own check stands)

    @property
    def cited(self) -> int:
        return len(self.right) + len(self.wrong)

    @property
    def ok(self) -> bool:
        return bool(self.right) and not self.wrong

    def note(self) -> str:
        """The Markdown shown under the answer (after :data:`NOTE_SEPARATOR`): what was
        checked, and what is missing or wrong."""
        shown = ", ".join(f"`{c.label}`" for c in self.sent[:6])
        more = f" and {len(self.sent) - 6} more" if len(self.sent) > 6 else ""
        if not self.cited:
            asked = " (asked once more, it named none)" if self.asked else ""
            if self.ask_error:
                asked = f" (asking which it used failed: {self.ask_error})"
            return (
                f"{NOTE_LEAD} ⚠ **citations missing**: the answer cites none of the "
                f"{len(self.sent)} excerpt(s) it was given{asked}; check it against them: "
                f"{shown}{more}."
            )
        lines = [f"{NOTE_LEAD} {len(self.right)} of {self.cited} citation(s) right."]
        if self.asked:
            named = ", ".join(f"`{c.label}`" for c in self.right + [w for w, _ in self.wrong])
            lines.append(f"The answer cited none; asked, the model named: {named}.")
        for cite, why in self.wrong:
            lines.append(f"⚠ **wrong citation** `{cite.label}`: {why}.")
        if self.wrong:
            lines.append(f"The excerpts sent were: {shown}{more}.")
        links = self.links()
        if links:
            lines.append("Sources: " + ", ".join(f"`{label}` <{url}>" for label, url in links))
        return "\n\n".join(lines)

    def links(self) -> list[tuple[str, str]]:
        """(citation, URL) for each right citation that points into an excerpt from a source
        (a Confluence page, an issue, a transcript at its time)."""
        out: list[tuple[str, str]] = []
        for cite in self.right:
            for sent in self.sent:
                inside = sent.path == cite.path and sent.start <= cite.end <= sent.end
                if sent.url and inside and (cite.label, sent.url) not in out:
                    out.append((cite.label, sent.url))
        return out


NOTE_LEAD = "**Citation check:**"
NOTE_SEPARATOR = "\n\n---\n\n"


def strip_note(text: str) -> str:
    """An answer without the citation check aiw appended (so rating an answer rates what
    the answer cites, not every excerpt the note lists)."""
    at = text.rfind(NOTE_SEPARATOR + NOTE_LEAD)
    return text[:at] if at >= 0 else text


def _looks_like_a_citation(cite: Citation, sent_paths: set[str], root: Path | None) -> bool:
    """Worth checking: a sent file, an existing one, or a path with a directory (not
    ``example.com:443``)."""
    if cite.path in sent_paths or "/" in cite.path:
        return True
    return root is not None and (root / cite.path).is_file()


def check_citations(
    answer: str, sent: Sequence[Citation], root: Path | None = None
) -> CitationCheck:
    """Check each ``path:start-end`` in ``answer`` against the ``sent`` excerpts.

    Right: the cited lines lie within the excerpts sent for that file. Wrong: the file was not
    sent, or the lines fall outside its excerpts (the excerpts of the file are named).
    """
    check = CitationCheck(list(sent))
    by_path: dict[str, list[Citation]] = {}
    for item in sent:
        by_path.setdefault(item.path, []).append(item)
    for match in _PLACEHOLDER.finditer(answer):
        # "path:59-76": the template copied, the file left out (small models do this)
        start, end = int(match.group("a")), int(match.group("b") or match.group("a"))
        meant = [e for e in sent if (e.start, e.end) == (start, end)]
        hint = f"; the excerpt with these lines is `{meant[0].label}`" if len(meant) == 1 else ""
        check.wrong.append((Citation("path", start, end), f"it names no file{hint}"))
    for cite in citations(answer):
        if not _looks_like_a_citation(cite, set(by_path), root):
            continue
        excerpts = by_path.get(cite.path)
        if not excerpts:
            check.wrong.append((cite, "no excerpt of this file was sent"))
            continue
        covered = {n for e in excerpts for n in range(e.start, e.end + 1)}
        if all(n in covered for n in range(cite.start, cite.end + 1)):
            check.right.append(cite)
        else:
            ranges = ", ".join(f"{e.start}-{e.end}" for e in excerpts)
            check.wrong.append((cite, f"lines outside the excerpt(s) sent ({cite.path}:{ranges})"))
    return check


_PLACEHOLDER = re.compile(r"(?<![\w./-])path:(?P<a>\d+)(?:-(?P<b>\d+))?\b")

CITE_REQUEST = (
    "Which of the excerpts above did you use for that answer? Reply with only their headers "
    "exactly as written (`path:start-end`), one per line, or the word none."
)


def cite_request(sent: Sequence[Citation]) -> str:
    """The follow-up that asks an answer which cited nothing for its sources."""
    listed = "\n".join(f"- {c.label}" for c in sent)
    return f"{CITE_REQUEST}\n\nThe excerpts were:\n{listed}"
