"""A compact copy of the local Chroma collection's vectors, for searches without chromadb.

Importing chromadb and opening its persistent client costs a search process about a second
and 90 MB; the vectors of a repository's chunks are a few MB (64 float32 per chunk). The
indexer therefore writes ``vectors.bin`` next to the index after every change to the local
collection, and a search reads it in blocks and ranks by exact cosine with numpy (vectors are
unit length, so a dot product: plain Python for a small index, numpy for a larger one). Up to
``MAX_CHUNKS`` chunks; beyond that searches use Chroma.

Kept consistent with the index under its write lock (``KnowledgeService._embed_pending``):

1. the index's meta ``vector_mirror`` is cleared before Chroma is touched,
2. Chroma is updated,
3. the new file is written to a temporary name and renamed over the old one,
4. meta ``vector_mirror`` is set to the stamp in the new file's header.

A reader uses the file only when its stamp equals the meta value and its collection is the
one the current embedding model writes to; otherwise (a run in progress, a run that failed
midway, another model, an index from before this file existed) it asks Chroma as before.

Format: ``AIWVEC1\\n``, the header length (8 bytes, little endian), a JSON header (collection,
stamp, count, dim, uid width) padded to 64 bytes, ``count × dim`` float32 vectors, then
``count`` uids of ``uid width`` bytes each.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"AIWVEC1\n"
FILENAME = "vectors.bin"
META_KEY = "vector_mirror"
MAX_CHUNKS = 300_000  # ~77 MB of vectors at 64 dimensions; beyond that Chroma's HNSW
BLOCK_ROWS = 32_768  # vectors numpy scores at a time: bounds a search's memory
# Up to this many vectors a one-off search scores them in plain Python (~20 ms for 10k):
# cheaper than importing numpy (~60-80 ms of a search process). Beyond it, numpy in blocks.
# A process that imported numpy already (the workbench, aiw serve) keeps the mirror loaded.
PYTHON_MAX_ROWS = 30_000


# path → (stamp, uids, matrix): mirrors a process that has numpy keeps in memory
_LOADED: dict[str, tuple[Any, Any, Any]] = {}


class VectorMirror:
    """One ``vectors.bin``, opened for searching."""

    def __init__(self, path: Path, header: dict[str, Any], data_offset: int) -> None:
        self.path = path
        self.header = header
        self.count = int(header["count"])
        self.dim = int(header["dim"])
        self.uid_width = int(header["uid_width"])
        self._data = data_offset

    @classmethod
    def open(cls, path: Path) -> VectorMirror | None:
        """The file's header, or None when it is missing or not a mirror."""
        try:
            with path.open("rb") as f:
                if f.read(len(MAGIC)) != MAGIC:
                    return None
                size = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(size))
        except (OSError, ValueError):
            return None
        return cls(path, header, len(MAGIC) + 8 + size)

    def _reopen(self) -> BinaryIO:
        """The file, positioned at its vectors, if it is still the one this header came from
        (a writer may have renamed a new one into place since); else OSError."""
        f = self.path.open("rb")
        try:
            if f.read(len(MAGIC)) != MAGIC:
                raise OSError(f"{self.path}: not a vector mirror any more")
            size = int.from_bytes(f.read(8), "little")
            if json.loads(f.read(size)).get("stamp") != self.header.get("stamp"):
                raise OSError(f"{self.path}: replaced while being read")
        except BaseException:
            f.close()
            raise
        return f

    def matches(self, collection: str, stamp: str | None) -> bool:
        return (
            bool(stamp)
            and self.header.get("stamp") == stamp
            and (self.header.get("collection") == collection)
        )

    def query(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]:
        """(uid, cosine similarity) of the ``limit`` nearest vectors, best first."""
        if not self.count or limit <= 0:
            return []
        if "numpy" in sys.modules:  # a long-lived process (workbench, serve): keep it loaded
            return self._query_loaded(vector, limit)
        with self._reopen() as f:
            if self.count <= PYTHON_MAX_ROWS:
                best = self._scan_python(f, vector, limit)
            else:
                best = self._scan_numpy(f, vector, limit)
            uids_at = self._data + self.count * self.dim * 4
            out = []
            for row, score in best:
                f.seek(uids_at + row * self.uid_width)
                uid = f.read(self.uid_width).rstrip(b"\0").decode("ascii")
                out.append((uid, score))
        return out

    def _query_loaded(self, vector: Sequence[float], limit: int) -> list[tuple[str, float]]:
        """The same from the whole file held in memory (numpy), read again when its stamp
        changes: a query is then one matrix product, as fast as Chroma's HNSW in memory."""
        import numpy as np

        key = str(self.path)
        held = _LOADED.get(key)
        if held is None or held[0] != self.header.get("stamp"):
            with self._reopen() as f:
                matrix = np.fromfile(f, dtype="<f4", count=self.count * self.dim)
                raw = f.read(self.count * self.uid_width)
            uids = np.frombuffer(raw, dtype=f"S{self.uid_width}")
            if matrix.size != self.count * self.dim or len(uids) != self.count:
                raise OSError(f"{self.path}: shorter than its header says")
            held = _LOADED[key] = (self.header.get("stamp"), uids, matrix.reshape(self.count, -1))
        _, uids, matrix = held
        # einsum: its own loop, not BLAS, whose threads cost ms a call on a busy machine
        scores = np.einsum("ij,j->i", matrix, np.asarray(vector, dtype=np.float32))
        if len(scores) > limit:
            top = np.argpartition(-scores, limit - 1)[:limit]
        else:
            top = np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(uids[i].decode("ascii"), float(scores[i])) for i in top]

    def _scan_python(
        self, f: BinaryIO, vector: Sequence[float], limit: int
    ) -> list[tuple[int, float]]:
        """(row, score) of the best rows, best first: plain Python, for small mirrors (no
        numpy import, which costs a search process more than scanning 30k rows)."""
        import heapq
        from array import array
        from operator import mul

        data = array("f")
        data.frombytes(f.read(self.count * self.dim * 4))
        if len(data) != self.count * self.dim:
            raise OSError(f"{self.path}: shorter than its header says")
        if sys.byteorder != "little":  # pragma: no cover
            data.byteswap()
        query = [float(x) for x in vector]
        view = memoryview(data)
        dim = self.dim
        scores = [sum(map(mul, query, view[i * dim : i * dim + dim])) for i in range(self.count)]
        best = heapq.nlargest(limit, range(self.count), key=scores.__getitem__)
        return [(row, scores[row]) for row in best]

    def _scan_numpy(
        self, f: BinaryIO, vector: Sequence[float], limit: int
    ) -> list[tuple[int, float]]:
        """(row, score) of the best rows, best first, reading ``BLOCK_ROWS`` rows at a time."""
        import numpy as np

        query = np.asarray(vector, dtype=np.float32)
        best_scores = np.empty(0, dtype=np.float32)
        best_rows = np.empty(0, dtype=np.int64)
        for start in range(0, self.count, BLOCK_ROWS):
            rows = min(BLOCK_ROWS, self.count - start)
            block = np.fromfile(f, dtype="<f4", count=rows * self.dim)
            if block.size != rows * self.dim:
                raise OSError(f"{self.path}: shorter than its header says")
            scores = np.concatenate(
                [best_scores, np.einsum("ij,j->i", block.reshape(rows, self.dim), query)]
            )
            index = np.concatenate([best_rows, np.arange(start, start + rows)])
            if len(scores) > limit:
                keep = np.argpartition(-scores, limit - 1)[:limit]
                scores, index = scores[keep], index[keep]
            best_scores, best_rows = scores, index
        order = np.argsort(-best_scores, kind="stable")
        return [(int(best_rows[i]), float(best_scores[i])) for i in order]

    def load(self) -> tuple[list[str], Any]:
        """Every (uid, vector) in the file: uids and a ``count × dim`` float32 matrix."""
        import numpy as np

        with self._reopen() as f:
            matrix = np.fromfile(f, dtype="<f4", count=self.count * self.dim)
            raw = f.read(self.count * self.uid_width)
        if matrix.size != self.count * self.dim or len(raw) != self.count * self.uid_width:
            raise OSError(f"{self.path}: shorter than its header says")
        width = self.uid_width
        uids = [raw[i : i + width].rstrip(b"\0").decode("ascii") for i in range(0, len(raw), width)]
        return uids, matrix.reshape(self.count, self.dim)


def write(path: Path, collection: str, uids: Sequence[str], matrix: Any) -> str:
    """Write a mirror atomically (temporary file, then rename); returns its stamp."""
    import numpy as np

    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    count = len(uids)
    dim = int(matrix.shape[1]) if count else 0
    encoded = [uid.encode("ascii") for uid in uids]
    width = max((len(e) for e in encoded), default=1)
    stamp = secrets.token_hex(8)
    header = {"collection": collection, "stamp": stamp, "count": count, "dim": dim,
              "uid_width": width}  # fmt: skip
    text = json.dumps(header).encode()
    pad = (-(len(MAGIC) + 8 + len(text))) % 64
    text += b" " * pad
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + len(text).to_bytes(8, "little") + text)
            if count:
                f.write(matrix.tobytes())
                f.write(np.array(encoded, dtype=f"S{width}").tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return stamp


def updated(
    old: tuple[list[str], Any] | None,
    gone: Sequence[str],
    added: Sequence[tuple[Sequence[str], Any]],
) -> tuple[list[str], Any]:
    """``old`` (uids, matrix) without ``gone``, with ``added`` batches (uids, vectors) put in
    (a uid added again replaces its vector)."""
    import numpy as np

    replaced = set(gone)
    for uids, _ in added:
        replaced.update(uids)
    parts_uids: list[str] = []
    parts: list[Any] = []
    if old is not None:
        uids, matrix = old
        keep = [i for i, uid in enumerate(uids) if uid not in replaced]
        parts_uids += [uids[i] for i in keep]
        parts.append(matrix[keep])
    latest: dict[str, int] = {}
    flat_uids: list[str] = []
    flat: list[Any] = []
    for uids, vectors in added:
        block = np.asarray(vectors, dtype=np.float32)
        for i, uid in enumerate(uids):
            latest[uid] = len(flat_uids)
            flat_uids.append(uid)
            flat.append(block[i])
    chosen = sorted(latest.values())
    parts_uids += [flat_uids[i] for i in chosen]
    if chosen:
        parts.append(np.stack([flat[i] for i in chosen]))
    parts = [p for p in parts if len(p)]
    if not parts:
        return [], np.zeros((0, 0), dtype=np.float32)
    return parts_uids, np.concatenate(parts)
