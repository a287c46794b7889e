"""Documents with the real local model: one document of each type for a real project.

Prints, per type: wall time, clarifying questions (taken as defaults here: headless),
checks passed at the first try / after the one retry, diagrams rendered; then the render time
per diagram language (fastest renderer, cache off) and the export time per format.

    python bench/documents.py [--project PATH] [--types adr,nfr] [--dump DIR]
      [--model openai/local-qwen --api-base http://127.0.0.1:8765/v1]

The local model serves one client at a time: the bench holds ``--lock`` (default
/tmp/local-model.lock, ``--lock ''`` for none) around each document, not the whole run, so
another benchmark can use the model between two documents. ``--dump DIR`` writes each
document, the model's raw replies and the check failures of each try there.

Targets (issue 17): every type passes its checks after at most one retry; a diagram renders in
<= 1 s with the fastest renderer; an export takes <= 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TYPES = ("adr", "nfr", "srs", "usecases", "api", "rfc", "c4", "uml")
TITLES = {
    "adr": "Move chat sessions from SQLite to PostgreSQL",
    "nfr": "Workbench responsiveness and reliability",
    "srs": "aiw terminal workbench",
    "usecases": "Review uncommitted changes",
    "api": "aiw HTTP API",
    "rfc": "Shared team knowledge index",
    "c4": "aiw",
    "uml": "Document generation",
}
SAMPLES = {
    "mermaid": "flowchart LR\n  CLI --> Service\n  Service --> DB[(SQLite)]\n",
    "d2": "cli: CLI\ndb: SQLite {shape: cylinder}\ncli -> db: writes\n",
    "plantuml": (
        '@startuml\n!include <C4/C4_Container>\nPerson(u, "User")\n'
        'Container(c, "CLI", "Python", "commands")\nRel(u, c, "uses")\n@enduml'
    ),
}


@contextlib.contextmanager
def model_lock(path: str):
    """Hold an exclusive flock on ``path`` (as `flock PATH cmd` does); '' holds nothing."""
    if not path:
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--model", default="openai/local-qwen")
    ap.add_argument("--api-base", default="http://127.0.0.1:8765/v1")
    ap.add_argument("--max-tokens", type=int, default=900)
    ap.add_argument(
        "--no-model",
        action="store_true",
        help="Skip generation: time rendering and export on a fixed sample ADR.",
    )
    ap.add_argument("--lock", default="/tmp/local-model.lock", help="flock held per document")
    ap.add_argument("--dump", type=Path, default=None, help="write documents and replies here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aiw-bench-docs-"))
    os.environ["AIW_DATA_DIR"] = str(tmp / "data")
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    from ai_workbench.core.settings import load_config
    from ai_workbench.documents.render import render_svg
    from ai_workbench.documents.service import DocumentService, NewOptions
    from ai_workbench.store import Store

    os.chdir(args.project)
    loaded = load_config({"documents": {"max_tokens": args.max_tokens}}, cwd=args.project)
    store = await Store.open(tmp / "aiw.db")
    replies: list[str] = []
    current = [""]  # the type being written

    class RecordingService(DocumentService):
        async def _call(self, messages, opts, stats):  # type: ignore[no-untyped-def]
            text = await super()._call(messages, opts, stats)
            replies.append(text)
            if args.dump:  # as it comes: a slow run can be read while it goes on
                (args.dump / f"{current[0]}.reply{len(replies)}.md").write_text(text)
            return text

    service = RecordingService(loaded, store)
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
    rows = []
    docs = []
    print(f"project {args.project} · model {args.model}")
    print(
        f"{'type':<9} {'wall s':>7} {'questions':>9} {'1st try':>8} {'after retry':>11} {'calls':>5} diagrams"  # noqa: E501
    )
    for kind in [] if args.no_model else args.types.split(","):
        opts = NewOptions(
            kind, TITLES[kind], model=args.model, api_base=args.api_base, questions=False
        )
        replies.clear()
        current[0] = kind
        started = time.perf_counter()
        try:
            with model_lock(args.lock):
                started = time.perf_counter()
                doc = await service.new(opts)
        except Exception as exc:  # report and go on: one type failing is a figure too
            print(f"{kind:<9} {time.perf_counter() - started:>7.1f}  failed: {exc}")
            rows.append((kind, False, False))
            continue
        wall = time.perf_counter() - started
        meta = doc.meta
        checks = meta["checks"]
        first = "pass" if checks["first_try_passed"] else "fail"
        final = "pass" if not checks["failed"] else "fail: " + ",".join(checks["failed"])
        dia = meta.get("diagrams") or []
        dia_s = (
            ", ".join(
                f"{d['lang']} {'ok' if d['ok'] else 'kept'}{' (fixed)' if d['retried'] and d['ok'] else ''}"  # noqa: E501
                for d in dia
            )
            or "-"
        )
        print(
            f"{kind:<9} {wall:>7.1f} {meta['questions']:>9} {first:>8} {final:>11} {meta['calls']:>5} {dia_s}"  # noqa: E501
        )
        rows.append((kind, checks["first_try_passed"], not checks["failed"]))
        if args.dump:
            (args.dump / f"{kind}.md").write_text(doc.body)
            (args.dump / f"{kind}.checks.json").write_text(json.dumps(checks, indent=1))
        docs.append(doc)
    if args.no_model:
        from ai_workbench.documents.storage import Document
        from tests.documents.replies import ADR

        body = "---\nstatus: accepted\n---\n\n# Sample ADR\n\n" + ADR
        docs.append(await service.docs.add(Document(0, "adr", "adr", 1, "Sample ADR", "", body)))
    passed = sum(1 for r in rows if r[2])
    if rows:
        first = sum(1 for r in rows if r[1])
        print(
            f"checks: {first}/{len(rows)} first try, {passed}/{len(rows)} after at most one retry"
        )

    print("\nrender (cache off, median of 3):")
    for lang, src in SAMPLES.items():
        times = []
        renderer = ""
        for _ in range(3):
            r = render_svg(lang, src, cache=False)
            times.append(r.seconds)
            renderer = r.renderer
        times.sort()
        print(f"  {lang:<9} {renderer:<9} {times[1]:.3f} s")

    print("\nexport (the ADR if made, else the first document; diagrams cached):")
    target = next((d for d in docs if d.doc_type == "adr"), docs[0] if docs else None)
    if target is not None:
        for fmt in ("md", "docx", "pdf", "confluence", "svg"):
            out = tmp / "out" / f"doc.{'xhtml' if fmt == 'confluence' else fmt}"
            started = time.perf_counter()
            try:
                res = await service.export(target.id, fmt, out, force=True)
                print(
                    f"  {fmt:<11} {time.perf_counter() - started:.3f} s  ({len(res.files)} file(s))"
                )
            except Exception as exc:
                print(f"  {fmt:<11} failed: {exc}")
    await store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
