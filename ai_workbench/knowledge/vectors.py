"""Chroma, for the vectors: a persistent store in the data dir, or a server for a team.

Chroma's own default embedding function would download a model at run time, so every collection
is opened with ``embedding_function=None`` and aiw always passes the vectors it computed
itself; telemetry is off. The collection name carries the project key and the embedding
model, so changing the model starts a fresh collection instead of mixing vector spaces.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class VectorStoreError(Exception):
    """Chroma cannot be opened or reached; ``str()`` names the place and the problem."""


def collection_name(project_key: str, embedder_name: str) -> str:
    digest = hashlib.sha1(embedder_name.encode()).hexdigest()[:8]
    base = re.sub(r"[^A-Za-z0-9._-]", "-", project_key)[:48].strip("-._") or "project"
    return f"aiw-{base}-{digest}"


class VectorStore:
    def __init__(self, *, path: Path | None, url: str, name: str) -> None:
        try:
            import chromadb
            from chromadb.config import Settings
        except ImportError as exc:  # pragma: no cover - chromadb is a dependency
            raise VectorStoreError(f"chromadb is not installed: {exc}") from None
        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                from urllib.parse import urlparse

                parsed = urlparse(url if "://" in url else f"http://{url}")
                client = chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
                self.where = url
            else:
                from ai_workbench.core.paths import ensure_private_dir, tighten_dir

                assert path is not None
                ensure_private_dir(path)
                tighten_dir(path)
                client = chromadb.PersistentClient(path=str(path), settings=settings)
                self.where = str(path)
            self.collection: Any = client.get_or_create_collection(
                name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        except Exception as exc:
            raise VectorStoreError(
                f"cannot open the Chroma store at {url or path}: {type(exc).__name__}: {exc}"
            ) from None

    def upsert(
        self, uids: Sequence[str], vectors: Sequence[Sequence[float]], rels: Sequence[str]
    ) -> None:
        for start in range(0, len(uids), 2000):
            end = start + 2000
            self.collection.upsert(
                ids=list(uids[start:end]),
                embeddings=[list(v) for v in vectors[start:end]],
                metadatas=[{"rel": r} for r in rels[start:end]],
            )

    def delete(self, uids: Sequence[str]) -> None:
        for start in range(0, len(uids), 2000):
            self.collection.delete(ids=list(uids[start : start + 2000]))

    def query(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]:
        """(uid, cosine similarity), best first."""
        count = self.collection.count()
        if not count:
            return []
        result = self.collection.query(
            query_embeddings=[list(vector)], n_results=min(limit, count), include=["distances"]
        )
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [(uid, 1.0 - float(d)) for uid, d in zip(ids, distances, strict=False)]

    def count(self) -> int:
        return int(self.collection.count())

    def export(self, batch: int = 5000) -> tuple[list[str], Any]:
        """Every (uid, vector) in the collection: uids and a float32 matrix (for the mirror
        file searches read, :mod:`ai_workbench.knowledge.mirror`)."""
        import numpy as np

        uids: list[str] = []
        parts = []
        offset = 0
        while True:
            got = self.collection.get(include=["embeddings"], limit=batch, offset=offset)
            ids = list(got["ids"])
            if not ids:
                break
            uids += ids
            parts.append(np.asarray(got["embeddings"], dtype=np.float32))
            offset += len(ids)
        matrix = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        return uids, matrix
