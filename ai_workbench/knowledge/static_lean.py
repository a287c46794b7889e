"""The built-in static model's query vectors, without its tokenizer's 330 MB trie.

The ``tokenlearn-static-model`` extension loads a Unigram tokenizer of 276,326 tokens: building
its trie takes about a second and 330 MB RSS, for a model whose vectors are a 10k × 64 int8
table (4 MB). A search embeds one short question, so this module does the same arithmetic with
the ``tokenizers`` library and plain Python over memory-mapped files (not even numpy, whose
import alone costs a search process more than the rest of this), loading only what a
question needs:

* the text is normalised and split into words by the tokenizer's own pipeline (the
  ``Precompiled`` normaliser, ``WhitespaceSplit`` + ``Metaspace``), with a 5-token model;
* the substrings of those words (and each with the ``▁`` word marker in front) are looked up
  in a sorted, memory-mapped table of the vocabulary (binary search), each extended only
  while some token starts with it;
* a Unigram model of just the tokens found (plus the ones its unknown-token score depends on)
  tokenises the text. Unigram's best segmentation only uses tokens that are substrings of a
  word, so the ids are the full tokenizer's ids (tests/test_knowledge_static_lean.py compares
  them on real files);
* the vector is the mean of ``embeddings[mapping[id]] × weights[id]`` over the first 512 ids,
  unit length: what the extension computes (same test, to float32 rounding: the extension
  adds in float32, this in float64).

The lookup table is derived from ``tokenizer.json`` once (about half a second) and kept under
the data dir (``models/``), keyed by the file's size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import struct
import threading
from pathlib import Path
from typing import Any

MAX_TOKENS = 512  # the extension's max_length
SHORT = 24  # bytes: tokens up to this long go in the compact table, longer ones apart
METASPACE = "▁"
FORMAT = "2"
SAFETENSORS_FORMATS = {"I64": "q", "F32": "f", "I8": "b", "F64": "d", "I32": "i"}  # struct codes


class _Table:
    """A sorted table of fixed-width, NUL-padded UTF-8 tokens with their ids (memory-mapped)."""

    def __init__(self, tokens: Path, ids: Path, width: int) -> None:
        self.width = width
        self._tokens = _map(tokens)
        self._ids = _map(ids)
        self.count = len(self._tokens) // width if width else 0

    def find(self, key: bytes) -> tuple[int | None, bool]:
        """(id of ``key`` or None, whether some token starts with ``key``): binary search."""
        width, count, data = self.width, self.count, self._tokens
        if len(key) > width or not count:
            return None, False
        padded = key.ljust(width, b"\0")
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            if data[mid * width : mid * width + width] < padded:
                lo = mid + 1
            else:
                hi = mid
        if lo == count:
            return None, False
        record = data[lo * width : lo * width + width]
        if record == padded:
            return int(struct.unpack_from("<i", self._ids, lo * 4)[0]), True
        # the first token not below ``key`` starts with it, if any token does
        return None, record.startswith(key)


def _map(path: Path) -> Any:
    with path.open("rb") as f:
        if not os.fstat(f.fileno()).st_size:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class _Tensors:
    """The tensors of a safetensors file, read in place (little-endian, as the format says)."""

    def __init__(self, path: Path) -> None:
        self._data = _map(path)
        size = struct.unpack_from("<Q", self._data, 0)[0]
        header = json.loads(bytes(self._data[8 : 8 + size]))
        header.pop("__metadata__", None)
        self._specs = {
            name: (
                8 + size + spec["data_offsets"][0],
                SAFETENSORS_FORMATS[spec["dtype"]],
                spec["shape"],
            )
            for name, spec in header.items()
        }

    def __contains__(self, name: str) -> bool:
        return name in self._specs

    def shape(self, name: str) -> list[int]:
        return list(self._specs[name][2])

    def item(self, name: str, index: int) -> float:
        offset, fmt, _ = self._specs[name]
        return struct.unpack_from("<" + fmt, self._data, offset + index * struct.calcsize(fmt))[0]

    def row(self, name: str, index: int) -> tuple[float, ...]:
        offset, fmt, shape = self._specs[name]
        width = shape[1]
        step = struct.calcsize(fmt)
        return struct.unpack_from(f"<{width}{fmt}", self._data, offset + index * width * step)


def _cache_key(tokenizer_file: Path) -> str:
    stat = tokenizer_file.stat()
    ident = f"{FORMAT}|{tokenizer_file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()[:16]


def _build_cache(tokenizer_file: Path, target: Path) -> None:
    """Write the vocabulary tables next to ``target`` and move them into place at once."""
    import shutil
    import tempfile
    from array import array

    spec = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    model = spec["model"]
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise ValueError(f"{tokenizer_file}: not a Unigram tokenizer without byte fallback")
    vocab = model["vocab"]
    encoded = [token.encode("utf-8") for token, _ in vocab]
    if any(b"\0" in token for token in encoded):
        raise ValueError(f"{tokenizer_file}: a token holds a NUL byte")
    scores = array("d", [float(score) for _, score in vocab])
    lowest = min(range(len(vocab)), key=lambda i: vocab[i][1])
    # Ids 0..unk_id and the lowest-scored token keep their places in every small model: the
    # unknown token's id stays valid and its score (lowest score - 10) stays the same.
    fixed = sorted({*range(int(model["unk_id"]) + 1), lowest})
    pipeline = dict(spec, model=dict(model, vocab=[vocab[i] for i in fixed]))
    meta: dict[str, Any] = {
        "fixed": fixed,
        "fixed_tokens": [vocab[i][0] for i in fixed],
        "unk_id": int(model["unk_id"]),
        "max_chars": max(len(token) for token, _ in vocab),
        "pipeline": pipeline,
        "widths": {},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        for name, chosen in (
            ("short", [i for i, t in enumerate(encoded) if len(t) <= SHORT]),
            ("long", [i for i, t in enumerate(encoded) if len(t) > SHORT]),
        ):
            width = max((len(encoded[i]) for i in chosen), default=0)
            chosen.sort(key=lambda i: encoded[i])
            (staging / f"{name}.tokens").write_bytes(
                b"".join(encoded[i].ljust(width, b"\0") for i in chosen)
            )
            ids = array("i", chosen)
            if ids.itemsize != 4:  # pragma: no cover - int is 32 bits where aiw runs
                raise ValueError("array('i') is not 32 bits here")
            (staging / f"{name}.ids").write_bytes(_little(ids))
            meta["widths"][name] = width
        (staging / "scores.f64").write_bytes(_little(scores))
        (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(staging, target)
        except OSError:  # another process built it first
            if not (target / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for old in target.parent.glob("static-vocab-*"):  # tables of an earlier model or format
        if old != target and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _little(values: Any) -> bytes:
    import sys

    if sys.byteorder != "little":  # pragma: no cover
        values = type(values)(values.typecode, values)
        values.byteswap()
    return values.tobytes()


class LeanStaticEncoder:
    """Vectors of the static model in ``model_dir`` (config.json, model.safetensors,
    tokenizer.json) for a few texts at a time; the tables are cached under ``cache_root``.
    Pure Python over memory-mapped files: no numpy to import for one question."""

    def __init__(self, model_dir: Path, cache_root: Path) -> None:
        from tokenizers import Tokenizer

        tokenizer_file = model_dir / "tokenizer.json"
        cache = cache_root / f"static-vocab-{_cache_key(tokenizer_file)}"
        if not (cache / "meta.json").exists():
            _build_cache(tokenizer_file, cache)
        meta = json.loads((cache / "meta.json").read_text(encoding="utf-8"))
        self._tables = [
            _Table(cache / f"{name}.tokens", cache / f"{name}.ids", meta["widths"][name])
            for name in ("short", "long")
        ]
        self._scores = _map(cache / "scores.f64")
        self._fixed: list[int] = meta["fixed"]
        self._fixed_tokens: list[str] = meta["fixed_tokens"]
        self._unk_id: int = meta["unk_id"]
        self._max_chars: int = meta["max_chars"]
        self._pipeline = Tokenizer.from_str(json.dumps(meta["pipeline"]))
        self._lock = threading.Lock()  # token_ids() swaps the pipeline's model
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self._normalize = bool(config.get("normalize", True))
        self._tensors = _Tensors(model_dir / "model.safetensors")
        self.dim = self._tensors.shape("embeddings")[1]

    def _found(self, text: str) -> dict[str, int]:
        """piece → token id for every token the tokenizer could cut from ``text``: the
        substrings of its normalised words that are tokens (each also with the word marker in
        front: a piece after a special token gets one). A substring is extended only while
        some token starts with it, so a word costs a few lookups per character."""
        normalized = self._pipeline.normalizer.normalize_str(text)
        width = self._max_chars
        short, long = self._tables
        found: dict[str, int] = {}
        alive: dict[str, bool] = {}
        for word, _ in self._pipeline.pre_tokenizer.pre_tokenize_str(normalized):
            for start in range(len(word)):
                for base in (word[start : start + width], (METASPACE + word[start:])[:width]):
                    for end in range(1, len(base) + 1):
                        piece = base[:end]
                        known = alive.get(piece)
                        if known is None:
                            key = piece.encode("utf-8")
                            in_short, prefix_short = short.find(key)
                            in_long, prefix_long = long.find(key)
                            token_id = in_short if in_short is not None else in_long
                            if token_id is not None and b"\0" not in key:
                                found[piece] = token_id
                            known = alive[piece] = prefix_short or prefix_long
                        if not known:
                            break
        return found

    def _score(self, token_id: int) -> float:
        return float(struct.unpack_from("<d", self._scores, token_id * 8)[0])

    def token_ids(self, text: str) -> list[int]:
        """The full tokenizer's ids for ``text`` (no special tokens added)."""
        from tokenizers import models

        found = self._found(text)
        fixed = set(self._fixed)
        extra = sorted((i, s) for s, i in found.items() if i not in fixed)
        keep = self._fixed + [i for i, _ in extra]
        vocab = [(token, self._score(i)) for token, i in zip(self._fixed_tokens, self._fixed,
                                                              strict=True)]  # fmt: skip
        vocab += [(token, self._score(i)) for i, token in extra]
        with self._lock:
            self._pipeline.model = models.Unigram(vocab, self._unk_id, False)
            ids = self._pipeline.encode(text, add_special_tokens=False).ids
        return [keep[i] for i in ids]

    def encode(self, texts: list[str]) -> list[list[float]]:
        """One vector per text: the mean of its tokens' weighted rows, unit length when the
        model normalises (zeros for a text without tokens)."""
        tensors = self._tensors
        mapped = "mapping" in tensors
        weighted = "weights" in tensors
        out = []
        for text in texts:
            ids = self.token_ids(text)[:MAX_TOKENS]
            total = [0.0] * self.dim
            for token_id in ids:
                row = int(tensors.item("mapping", token_id)) if mapped else token_id
                weight = tensors.item("weights", token_id) if weighted else 1.0
                for k, value in enumerate(tensors.row("embeddings", row)):
                    total[k] += value * weight
            if ids:
                total = [x / len(ids) for x in total]
                if self._normalize:
                    norm = max(math.sqrt(sum(x * x for x in total)), 1e-12)
                    total = [x / norm for x in total]
            out.append(total)
        return out


def encoder_for(model_dir: Path, cache_root: Path) -> LeanStaticEncoder:
    """A :class:`LeanStaticEncoder` (kept per process: the tables are memory-mapped)."""
    key = (str(model_dir), str(cache_root))
    encoder = _ENCODERS.get(key)
    if encoder is None:
        encoder = _ENCODERS[key] = LeanStaticEncoder(model_dir, cache_root)
    return encoder


_ENCODERS: dict[tuple[str, str], LeanStaticEncoder] = {}
