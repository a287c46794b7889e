"""The lean query encoder gives the built-in model's vectors: the same token ids as the full
tokenizer and the same vectors as the package's extension, on real files of this repository
and on awkward text (special tokens, unknown characters, very long input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ai_workbench.knowledge.embeddings import BuiltinEmbedder
from ai_workbench.knowledge.static_lean import LeanStaticEncoder

REPO = Path(__file__).resolve().parents[1]


def _texts() -> list[str]:
    texts = []
    files = sorted((REPO / "ai_workbench" / "knowledge").glob("*.py"))
    files += sorted((REPO / "docs").glob("*.md"))[:4]
    for path in files:
        data = path.read_text(encoding="utf-8")
        texts += [data[i : i + 1200] for i in range(0, min(len(data), 4800), 1200)]
    return [
        *texts,
        "where are retries configured",
        "ab<pad>cd<unk>ef and <pad> alone",
        "ünïcödé ß ﬁ 日本語 🙂 \x00\x01 \u200b ｆｕｌｌｗｉｄｔｈ Ⅷ ①",
        "  multiple   spaces\n\n\ttabs ",
        "x" * 3000,
        " ".join(["assertion", "rewriting", "internationalization"] * 300),
        "-",
    ]


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> LeanStaticEncoder:
    embedder = BuiltinEmbedder()
    return LeanStaticEncoder(embedder.model_dir, tmp_path_factory.mktemp("models"))


def test_token_ids_match_the_full_tokenizer(lean: LeanStaticEncoder) -> None:
    from tokenizers import Tokenizer

    full = Tokenizer.from_file(str(BuiltinEmbedder().model_dir / "tokenizer.json"))
    for text in _texts():
        assert lean.token_ids(text) == full.encode(text, add_special_tokens=False).ids, text[:60]


def test_vectors_match_the_extension(lean: LeanStaticEncoder) -> None:
    import static_model

    texts = _texts()
    expected = np.array(static_model.get_embeddings(texts), dtype=np.float32)
    assert np.abs(np.array(lean.encode(texts)) - expected).max() < 1e-5


def test_query_vector_is_the_document_vector_of_the_same_text(tmp_path: Path) -> None:
    embedder = BuiltinEmbedder(cache_root=tmp_path)
    question = "how does the index lock keep two writers apart"
    query = np.array(embedder.embed_query(question))
    document = np.array(embedder.embed([question])[0])
    assert embedder._lean is not None  # the lean path answered, not the extension
    assert float(query @ document) > 0.99999
    # the tables were cached: a second encoder (a new process) reads them back
    assert len(list(tmp_path.glob("static-vocab-*/short.tokens"))) == 1
    again = LeanStaticEncoder(embedder.model_dir, tmp_path)
    assert np.allclose(again.encode([question])[0], query, atol=1e-6)
