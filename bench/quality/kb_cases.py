"""Grounded questions over a real docs set: aiw's own user docs as of commit DOCS_COMMIT (taken
from git, so later doc edits do not move the answers). Written before any tuning.

An answer is right when it contains every ``answer`` pattern. Its citation is right when it
cites ``file`` with a line range that includes a line matching ``anchor``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The docs set: `git archive DOCS_COMMIT docs` from this repository.
DOCS_COMMIT = "156bb15"


@dataclass(frozen=True)
class KbCase:
    question: str
    answer: tuple[str, ...]  # regexes, all must appear in the answer
    file: str  # docs/NAME.md
    anchor: str  # regex of a line the right citation covers


CASES: tuple[KbCase, ...] = (
    KbCase(
        "How many model calls does aiw review make at once by default (max_parallel)?",
        (r"\b4\b",),
        "docs/review.md",
        r"`max_parallel` \| 4",
    ),
    KbCase(
        "Which exit code does aiw return when the API key's environment variable is not set?",
        (r"\b4\b",),
        "docs/providers.md",
        r"^\| 4 \|",
    ),
    KbCase(
        "What exit code does aiw use when a request to the model times out?",
        (r"\b8\b",),
        "docs/providers.md",
        r"^\| 8 \|",
    ),
    KbCase(
        "What weights does BM25 give to the path, the title and the body of a chunk?",
        (r"\b4\b", r"\b3\b", r"\b1\b"),
        "docs/knowledge.md",
        r"weights path 4, title 3, body 1",
    ),
    KbCase(
        "What is the default theme of the workbench?",
        (r"textual-dark",),
        "docs/configuration.md",
        r"`theme` \| `textual-dark`",
    ),
    KbCase(
        "Which terminals does the default scrollback capture mode read the output from?",
        (r"tmux", r"kitty"),
        "docs/shell.md",
        r"\| `scrollback` \(default\)",
    ),
    KbCase(
        "How is a PDF file split into chunks when the project is indexed?",
        (r"page",),
        "docs/knowledge.md",
        r"PDF \(pypdf\) \| one chunk per page",
    ),
    KbCase(
        "What is the default embedding_model setting of the knowledge index?",
        (r"builtin",),
        "docs/knowledge.md",
        r"`embedding_model` \| `\"builtin\"`",
    ),
    KbCase(
        "In offline mode, which endpoints does aiw still allow?",
        (r"private|local|this machine",),
        "docs/providers.md",
        r"refuses every provider whose endpoint is not",
    ),
    KbCase(
        "Which exit code does aiw review return when there are findings at the --fail-on level?",
        (r"\b1\b",),
        "docs/review.md",
        r"Exit codes: \*\*0\*\*",
    ),
)
