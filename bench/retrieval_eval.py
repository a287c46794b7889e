"""Retrieval quality on a bug-localisation set: commit subject → the source files it changed.

Usage::

    python bench/retrieval_eval.py REPO                  # evaluate (index REPO/<subdir> first)
    python bench/retrieval_eval.py REPO --build          # (re)build bench/data/<name>.json

The committed set ``bench/data/bugloc_pytest.json`` was built with ``--build`` from a clone of
github.com/pytest-dev/pytest (the commit it names): the most recent non-merge commits that
changed 1-3 Python files under ``src/`` which still exist at that commit, skipping mechanical
subjects (ruff/pre-commit/bump/release/typo/merge). The query is the commit subject without
its ``(#1234)`` suffix; the relevant files are the ones the commit changed. The index is the
snapshot at the set's commit (a simplification: the code after the fix).

Printed: Recall@10 (share of a query's changed files among the first 10 distinct files) and MRR
(1 / rank of the first changed file) for BM25 alone, vectors alone and hybrid with each fusion.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_SET = DATA / "bugloc_pytest.json"
SKIP = re.compile(
    r"^(\[?ruff|\[?pre-commit|bump|release|prepare release|merge|typo|fix typo|revert|"
    r"update changelog|\[automated\]|run pyupgrade|format|reformat|blacken|lint)",
    re.IGNORECASE,
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def build(repo: Path, out: Path, subdir: str, limit: int) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    existing = {
        p for p in git(repo, "ls-tree", "-r", "--name-only", head).splitlines()
        if p.startswith(subdir + "/") and p.endswith(".py")
    }  # fmt: skip
    log = git(repo, "log", "--no-merges", "--format=@@%H%x09%s", "--name-only", head, "--", subdir)
    queries = []
    seen_subjects: set[str] = set()
    for block in log.split("@@")[1:]:
        lines = [line for line in block.splitlines() if line.strip()]
        sha, subject = lines[0].split("\t", 1)
        files = sorted({f for f in lines[1:] if f.startswith(subdir + "/") and f.endswith(".py")})
        subject = re.sub(r"\s*\(#\d+\)\s*$", "", subject).strip()
        if not files or len(files) > 3 or any(f not in existing for f in files):
            continue
        if SKIP.match(subject) or len(subject.split()) < 3 or subject.lower() in seen_subjects:
            continue
        seen_subjects.add(subject.lower())
        queries.append({"commit": sha, "query": subject, "files": files})
        if len(queries) >= limit:
            break
    data = {
        "repository": "https://github.com/pytest-dev/pytest",
        "commit": head,
        "subdir": subdir,
        "built_with": f"python bench/retrieval_eval.py REPO --build --subdir {subdir} "
        f"--limit {limit}",
        "rules": "non-merge commits, newest first, changing 1-3 existing .py files under subdir; "
        "mechanical subjects skipped; query = subject without (#PR)",
        "queries": queries,
    }
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(queries)} queries to {out}")


def ranked_files(hits: list, limit: int = 10) -> list[str]:
    files: list[str] = []
    for hit in hits:
        if hit.rel not in files:
            files.append(hit.rel)
        if len(files) == limit:
            break
    return files


def weight_used(service: object) -> float:
    from ai_workbench.knowledge import service as service_module

    if service_module.VECTOR_WEIGHT is not None:
        return service_module.VECTOR_WEIGHT
    embedder = service.embedder()  # type: ignore[attr-defined]
    return embedder.fusion_weight if embedder is not None else 0.0


def evaluate(repo: Path, dataset: Path, embedding: str, weight: float | None) -> None:
    from ai_workbench.core.settings import KnowledgeSettings
    from ai_workbench.knowledge import service as service_module
    from ai_workbench.knowledge.service import KnowledgeService

    if weight is not None:
        service_module.VECTOR_WEIGHT = weight

    data = json.loads(dataset.read_text(encoding="utf-8"))
    head = git(repo, "rev-parse", "HEAD").strip()
    if head != data["commit"]:
        print(f"note: {repo} is at {head[:10]}, the set was built at {data['commit'][:10]}")
    root = repo / data["subdir"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = KnowledgeSettings(embedding_model=embedding)
        service = KnowledgeService(settings, root, data_dir=Path(tmp))
        report = service.index()
        print(
            f"indexed {report.files_seen} files, {report.chunks_total} chunks in "
            f"{report.duration_s:.1f} s (embedding {report.embedding_s:.1f} s, "
            f"{report.embedding_model})"
        )
        prefix = data["subdir"] + "/"
        queries = data["queries"]
        print(f"{len(queries)} queries from {data['repository']} @ {data['commit'][:10]}\n")
        print(f"{'method':<22} {'Recall@10':>9} {'MRR':>7} {'ms/query':>9}")
        for label, mode, fusion in (
            ("BM25", "lexical", "rrf"),
            ("vectors", "vector", "rrf"),
            ("hybrid (RRF)", "hybrid", "rrf"),
            (f"hybrid (score, w={weight_used(service)})", "hybrid", "score"),
        ):
            recall = mrr = 0.0
            clock = time.perf_counter()
            for item in queries:
                result = service.search_sync(item["query"], 100, mode=mode, fusion=fusion)
                files = [prefix + f for f in ranked_files(result.hits)]
                relevant = set(item["files"])
                recall += len(relevant & set(files)) / len(relevant)
                for rank, path in enumerate(files, 1):
                    if path in relevant:
                        mrr += 1 / rank
                        break
            ms = (time.perf_counter() - clock) * 1000 / len(queries)
            n = len(queries)
            print(f"{label:<22} {recall / n:>9.3f} {mrr / n:>7.3f} {ms:>9.1f}")
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="a git clone of the set's repository")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the query set (JSON)")
    parser.add_argument("--build", action="store_true", help="build the set from REPO's history")
    parser.add_argument("--subdir", default="src")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--embedding", default="builtin", help="knowledge.embedding_model")
    parser.add_argument("--vector-weight", type=float, help="score fusion weight of vectors")
    args = parser.parse_args()
    if args.build:
        build(args.repo, args.set, args.subdir, args.limit)
    else:
        evaluate(args.repo, args.set, args.embedding, args.vector_weight)


if __name__ == "__main__":
    main()
