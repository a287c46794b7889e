"""Learning from likes and dislikes: quieter reviews of the same repository over time.

Prompting a model to avoid things is not enough (public tools report that weaker models ignore
bans in the prompt, and that model self-rating is nearly random). What works is a filter on the
output, per team: a new finding that resembles several findings the team disliked is held back.

* A rating on a finding is stored as feedback (``target_kind = "finding"``) **and** joins a
  *learning* of the repository: the most similar learning of the same polarity and category,
  or a new one whose rule text is the user's comment (or "Findings like: <title>").
* A dislike-learning (``avoid``) holds back a new finding of its category, in files matching its
  ``path_glob``, that resembles at least ``min_dislikes`` (default 3) of its examples. An
  ``error`` finding is never held back silently: it stays shown, with a note saying which
  learning it resembles.
* Like-learnings (``prefer``) give the model up to three recent liked findings as examples.
* Rules are listed, edited (text, category, glob, on/off) and deleted with
  ``aiw review learnings``; ``--no-learning`` bypasses all of it for one run.

Similarity is lexical (cosine of word counts over title and explanation, identifiers split),
so it needs no embedding model and is the same on every machine.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ai_workbench.review.models import Finding
from ai_workbench.review.prompt import Example
from ai_workbench.review.storage import Learning, LearningExample, ReviewStore

SIMILARITY = 0.45
MIN_DISLIKES = 3
MAX_EXAMPLES = 3
_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "more",
        "not",
        "of",
        "on",
        "or",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "when",
        "which",
        "while",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def _tokens(text: str) -> Counter[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    return Counter(w for w in words if w not in _STOP and len(w) > 1)


def similarity(a: str, b: str) -> float:
    """Cosine similarity of word counts (0..1)."""
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    dot = sum(ta[w] * tb[w] for w in ta.keys() & tb.keys())
    norm = math.sqrt(sum(v * v for v in ta.values())) * math.sqrt(sum(v * v for v in tb.values()))
    return dot / norm if norm else 0.0


def finding_text(title: str, explanation: str) -> str:
    return f"{title}. {title}. {explanation}"  # the title counts double: it names the kind


def _glob_match(path: str, glob: str) -> bool:
    if glob in ("", "*", "**"):
        return True
    return fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(path, glob.rstrip("/") + "/*")


def _applies(learning: Learning, finding: Finding) -> bool:
    return (
        learning.enabled
        and learning.category in ("*", finding.category)
        and _glob_match(finding.path, learning.path_glob)
    )


def _resemblance(learning: Learning, text: str) -> int:
    """How many of the learning's examples (or its edited rule) ``text`` resembles."""
    hits = sum(
        1
        for ex in learning.examples
        if similarity(text, finding_text(ex.title, ex.explanation)) >= SIMILARITY
    )
    return hits


@dataclass
class LearningFilter:
    """The repository's learnings, applied to one run's findings."""

    avoid: list[Learning]
    prefer: list[Learning]
    min_dislikes: int = MIN_DISLIKES

    def check(self, finding: Finding) -> Learning | None:
        """The avoid-learning that should hold ``finding`` back, if any."""
        text = finding_text(finding.title, finding.explanation)
        for learning in self.avoid:
            if not _applies(learning, finding):
                continue
            if _resemblance(learning, text) >= self.min_dislikes:
                return learning
        return None

    def avoid_rules(self) -> list[str]:
        return [
            ln.rule for ln in self.avoid if ln.enabled and len(ln.examples) >= self.min_dislikes
        ]

    def examples(self, limit: int = MAX_EXAMPLES) -> list[Example]:
        liked: list[tuple[float, LearningExample]] = []
        for learning in self.prefer:
            if learning.enabled:
                liked.extend((learning.updated, ex) for ex in learning.examples)
        liked.sort(key=lambda pair: pair[0], reverse=True)
        seen: set[str] = set()
        out: list[Example] = []
        for _, ex in liked:
            if ex.title in seen:
                continue
            seen.add(ex.title)
            out.append(Example(ex.path, ex.category, ex.severity, ex.title, ex.explanation))
            if len(out) >= limit:
                break
        return out


async def load_filter(
    reviews: ReviewStore, repo: str, min_dislikes: int = MIN_DISLIKES
) -> LearningFilter:
    items = await reviews.learnings(repo)
    return LearningFilter(
        avoid=[i for i in items if i.polarity < 0],
        prefer=[i for i in items if i.polarity > 0],
        min_dislikes=min_dislikes,
    )


def _best(candidates: Iterable[Learning], text: str) -> tuple[Learning | None, float]:
    best, score = None, 0.0
    for learning in candidates:
        for ex in learning.examples:
            s = similarity(text, finding_text(ex.title, ex.explanation))
            if s > score:
                best, score = learning, s
        if learning.rule and not learning.rule.startswith("Findings like: "):
            s = similarity(text, learning.rule)
            if s > score:
                best, score = learning, s
    return best, score


async def learn_from_rating(
    reviews: ReviewStore, repo: str, finding: Finding, rating: int, comment: str | None
) -> Learning:
    """Attach a rated finding to the learning it resembles most, or start a new one."""
    assert finding.id is not None
    await reviews.remove_examples_of(finding.id)
    polarity = -1 if rating < 0 else 1
    items = [
        ln
        for ln in await reviews.learnings(repo)
        if ln.polarity == polarity and ln.category in ("*", finding.category)
    ]
    best, score = _best(items, finding_text(finding.title, finding.explanation))
    if best is None or score < SIMILARITY:
        rule = (comment or "").strip() or f"Findings like: {finding.title}"
        learning_id = await reviews.add_learning(repo, polarity, finding.category, "**", rule)
    else:
        learning_id = best.id
    await reviews.add_example(learning_id, finding, comment)
    return await reviews.get_learning(learning_id)
