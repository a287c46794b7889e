"""The built-in static model's query vectors, without its tokenizer's 330 MB trie.

The ``tokenlearn-static-model`` extension loads a Unigram tokenizer of 276,326 tokens: building
its trie takes about a second and 330 MB RSS, for a model whose vectors are a 10k × 64 int8
table (4 MB). A search embeds one short question, so this module does the same arithmetic with
numpy and the ``tokenizers`` library, loading only what a question needs:

* the text is normalised and split into words by the tokenizer's own pipeline (the
  ``Precompiled`` normaliser, ``WhitespaceSplit`` + ``Metaspace``), with a 5-token model;
* every substring of those words (and each with the ``▁`` word marker in front) is looked up in
  a sorted, memory-mapped table of the vocabulary (``numpy.searchsorted``);
* a Unigram model of just the tokens found (plus the ones its unknown-token score depends on)
  tokenises the text. Unigram's best segmentation only uses tokens that are substrings of a
  word, so the ids are the full tokenizer's ids (tests/test_knowledge_static_lean.py compares
  them on real files);
* the vector is the mean of ``embeddings[mapping[id]] × weights[id]`` over the first 512 ids,
  unit length: what the extension computes (same test, to float32 rounding).

The lookup table is derived from ``tokenizer.json`` once (about half a second) and kept under
the data dir (``models/``), keyed by the file's size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 512  # the extension's max_length
SHORT = 24  # bytes: tokens up to this long go in the compact table, longer ones apart
METASPACE = "▁"
FORMAT = "1"


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (little-endian, as the format prescribes)."""
    dtypes = {"I64": "<i8", "F32": "<f4", "I8": "i1", "F64": "<f8", "I32": "<i4", "F16": "<f2"}
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    size = int(np.frombuffer(raw[:8].tobytes(), dtype="<u8")[0])
    header = json.loads(raw[8 : 8 + size].tobytes())
    base = 8 + size
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        array = np.frombuffer(raw[base + start : base + end], dtype=dtypes[spec["dtype"]])
        out[name] = array.reshape(spec["shape"])
    return out


def _cache_key(tokenizer_file: Path) -> str:
    stat = tokenizer_file.stat()
    ident = f"{FORMAT}|{tokenizer_file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()[:16]


def _build_cache(tokenizer_file: Path, target: Path) -> None:
    """Write the vocabulary tables next to ``target`` and move them into place at once."""
    spec = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    model = spec["model"]
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise ValueError(f"{tokenizer_file}: not a Unigram tokenizer without byte fallback")
    vocab = model["vocab"]
    scores = np.array([score for _, score in vocab], dtype=np.float64)
    encoded = [token.encode("utf-8") for token, _ in vocab]
    if any(b"\0" in token for token in encoded):
        raise ValueError(f"{tokenizer_file}: a token holds a NUL byte")
    tables: dict[str, np.ndarray] = {}
    for name, chosen in (
        ("short", [i for i, t in enumerate(encoded) if len(t) <= SHORT]),
        ("long", [i for i, t in enumerate(encoded) if len(t) > SHORT]),
    ):
        width = max((len(encoded[i]) for i in chosen), default=1)
        tokens = np.array([encoded[i] for i in chosen], dtype=f"S{width}")
        order = np.argsort(tokens, kind="stable")
        tables[f"{name}_tokens"] = tokens[order]
        tables[f"{name}_ids"] = np.array(chosen, dtype=np.int32)[order]
    lowest = int(np.argmin(scores))
    # Ids 0..unk_id and the lowest-scored token keep their places in every small model: the
    # unknown token's id stays valid and its score (lowest score - 10) stays the same.
    fixed = sorted({*range(int(model["unk_id"]) + 1), lowest})
    pipeline = dict(spec, model=dict(model, vocab=[vocab[i] for i in fixed]))
    meta = {
        "fixed": fixed,
        "fixed_tokens": [vocab[i][0] for i in fixed],
        "unk_id": int(model["unk_id"]),
        "max_chars": max(len(token) for token, _ in vocab),
        "pipeline": pipeline,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        for name, array in tables.items():
            np.save(staging / f"{name}.npy", array)
        np.save(staging / "scores.npy", scores)
        (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(staging, target)
        except OSError:  # another process built it first
            if not (target / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class LeanStaticEncoder:
    """Vectors of the static model in ``model_dir`` (config.json, model.safetensors,
    tokenizer.json) for a few texts at a time; the tables are cached under ``cache_root``."""

    def __init__(self, model_dir: Path, cache_root: Path) -> None:
        from tokenizers import Tokenizer

        tokenizer_file = model_dir / "tokenizer.json"
        cache = cache_root / f"static-vocab-{_cache_key(tokenizer_file)}"
        if not (cache / "meta.json").exists():
            _build_cache(tokenizer_file, cache)
        meta = json.loads((cache / "meta.json").read_text(encoding="utf-8"))
        self._short = np.load(cache / "short_tokens.npy", mmap_mode="r")
        self._short_ids = np.load(cache / "short_ids.npy", mmap_mode="r")
        self._long = np.load(cache / "long_tokens.npy", mmap_mode="r")
        self._long_ids = np.load(cache / "long_ids.npy", mmap_mode="r")
        self._scores = np.load(cache / "scores.npy", mmap_mode="r")
        self._fixed: list[int] = meta["fixed"]
        self._fixed_tokens: list[str] = meta["fixed_tokens"]
        self._unk_id: int = meta["unk_id"]
        self._max_chars: int = meta["max_chars"]
        self._pipeline = Tokenizer.from_str(json.dumps(meta["pipeline"]))
        self._lock = threading.Lock()  # encode() swaps the pipeline's model
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self._normalize = bool(config.get("normalize", True))
        tensors = _safetensors(model_dir / "model.safetensors")
        self._embeddings = tensors["embeddings"]
        self._mapping = tensors.get("mapping")
        self._weights = tensors.get("weights")

    def _candidates(self, text: str) -> set[str]:
        """Every string the tokenizer could cut a token from: substrings of the normalised
        words, each also with the word marker in front (a piece after a special token)."""
        normalized = self._pipeline.normalizer.normalize_str(text)
        width = self._max_chars
        out: set[str] = set()
        for word, _ in self._pipeline.pre_tokenizer.pre_tokenize_str(normalized):
            for start in range(len(word)):
                rest = word[start : start + width]
                marked = (METASPACE + rest)[:width]
                out.update(rest[:end] for end in range(1, len(rest) + 1))
                out.update(marked[:end] for end in range(1, len(marked) + 1))
        return out

    def _lookup(self, candidates: set[str]) -> dict[str, int]:
        """candidate → token id, for the candidates in the vocabulary."""
        found: dict[str, int] = {}
        strings = [c for c in candidates if "\0" not in c]
        encoded = [c.encode("utf-8") for c in strings]
        for table, ids, fits in (
            (self._short, self._short_ids, lambda n: n <= SHORT),
            (self._long, self._long_ids, lambda n: n > SHORT),
        ):
            chosen = [i for i, e in enumerate(encoded) if fits(len(e)) and len(e) <= table.itemsize]
            if not chosen or not len(table):
                continue
            wanted = np.array([encoded[i] for i in chosen], dtype=table.dtype)
            at = np.minimum(np.searchsorted(table, wanted), len(table) - 1)
            hit = np.asarray(table[at]) == wanted
            for i, position in zip(np.flatnonzero(hit), at[hit], strict=True):
                found[strings[chosen[i]]] = int(ids[position])
        return found

    def token_ids(self, text: str) -> list[int]:
        """The full tokenizer's ids for ``text`` (no special tokens added)."""
        from tokenizers import models

        found = self._lookup(self._candidates(text))
        fixed = set(self._fixed)
        extra = sorted((i, s) for s, i in found.items() if i not in fixed)
        keep = self._fixed + [i for i, _ in extra]
        vocab = [
            (token, float(self._scores[i]))
            for token, i in [*zip(self._fixed_tokens, self._fixed, strict=True),
                             *((s, i) for i, s in extra)]
        ]  # fmt: skip
        with self._lock:
            self._pipeline.model = models.Unigram(vocab, self._unk_id, False)
            ids = self._pipeline.encode(text, add_special_tokens=False).ids
        return [keep[i] for i in ids]

    def encode(self, texts: list[str]) -> np.ndarray:
        """One float32 vector per text (unit length when the model normalises)."""
        dim = self._embeddings.shape[1]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = np.array(self.token_ids(text)[:MAX_TOKENS], dtype=np.int64)
            if not len(ids):
                continue
            rows = self._mapping[ids] if self._mapping is not None else ids
            vectors = self._embeddings[rows].astype(np.float32)
            if self._weights is not None:
                vectors *= self._weights[ids][:, None]
            mean = vectors.sum(axis=0) / np.float32(len(ids))
            if self._normalize:
                mean /= max(float(np.sqrt((mean * mean).sum())), 1e-12)
            out[row] = mean
        return out


def encoder_for(model_dir: Path, cache_root: Path) -> Any:
    """A :class:`LeanStaticEncoder` (kept per process: the tables are memory-mapped)."""
    key = (str(model_dir), str(cache_root))
    encoder = _ENCODERS.get(key)
    if encoder is None:
        encoder = _ENCODERS[key] = LeanStaticEncoder(model_dir, cache_root)
    return encoder


_ENCODERS: dict[tuple[str, str], LeanStaticEncoder] = {}
