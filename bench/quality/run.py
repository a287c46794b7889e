"""Answer quality with a real model: review, shell fixes, grounded answers, AI! requests.

    ../shared/tools/local-model start                       # Qwen2.5-Coder-1.5B on :8765
    python bench/quality/run.py                             # every suite, that model
    python bench/quality/run.py --suite review --suite kb   # some suites
    python bench/quality/run.py --label before --save       # keep figures in bench/quality/results/
    python bench/quality/run.py --model openai/NAME --api-base URL

Each suite drives the real `aiw` CLI from this checkout in a throwaway HOME (see harness.py),
prints one line per case and a summary; `--save` writes the per-case results as JSON, so a
change can be compared with the run before it (`--compare results/before.json`).
Figures: review bugs named / clean diffs with noise / replies lost to parsing; shell top fix
right; grounded answers right and citations right (and unchecked or wrong ones shown); AI!
requested change made. Needs the model to answer; exit 2 when it does not.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import DEFAULT_API_BASE, DEFAULT_MODEL, REPO_ROOT, Env, model_answers, new_repo
from harness import temp_root as _temp_root

RESULTS = Path(__file__).resolve().parent / "results"


def _matches(patterns: tuple[str, ...], text: str) -> bool:
    return any(re.search(p, text, re.IGNORECASE | re.MULTILINE) for p in patterns)


def _only(cases: Any, args: argparse.Namespace) -> list[Any]:
    if not args.case:
        return list(cases)
    # a default argument is evaluated first: getattr(c, "name", c.question) failed on any case
    # without a question (ShellCase)
    names = [getattr(c, "name", None) or c.question for c in cases]
    return [c for c, n in zip(cases, names, strict=True) if any(p in n for p in args.case)]


def _each(cases: Any, args: argparse.Namespace, kind: str) -> Any:
    """(case, its throwaway environment, its temp dir) for each selected case."""
    for case in _only(cases, args):
        with _temp_root(kind) as tmp:
            env = Env.create(Path(tmp), args.model, args.api_base, profile_toml=args.profile)
            yield case, env, Path(tmp)


# --- review -------------------------------------------------------------------------------------
def suite_review(args: argparse.Namespace) -> list[dict[str, Any]]:
    from review_cases import CASES

    rows = []
    for case, env, tmp in _each(CASES, args, "review"):
        repo = new_repo(tmp / "repo", {case.path: case.before})
        (repo / case.path).write_text(case.after, encoding="utf-8")
        res = env.aiw("review", "--format", "json", "--no-suggestions", cwd=repo)
        data = res.json() or {}
        findings = data.get("findings") or []
        lost = (
            res.code == 2
            or bool(data.get("errors"))
            or data.get("status")
            not in (
                None,
                "ok",
                "done",
                "complete",
            )
        )
        named = [
            f
            for f in findings
            if f.get("path", "").endswith(case.path)
            and _matches(case.names_bug, f"{f.get('title', '')}\n{f.get('explanation', '')}")
        ]
        noisy = [f for f in findings if f.get("severity") in ("error", "warning")]
        row = {
            "suite": "review",
            "case": case.name,
            "clean": not case.names_bug,
            "exit": res.code,
            "status": data.get("status"),
            "findings": len(findings),
            "named": bool(named) if case.names_bug else None,
            "noise": len(noisy) if not case.names_bug else None,
            "lost": lost,
            "errors": data.get("errors") or ([res.stderr.strip()[-300:]] if res.code else []),
            "titles": [f.get("title") for f in findings],
            "seconds": round(res.seconds, 1),
        }
        rows.append(row)
        verdict = (
            ("NAMED" if row["named"] else "missed") if not row["clean"] else f"noise {row['noise']}"
        )
        print(
            f"review  {case.name:<18} {verdict:<9} findings {len(findings)}  exit {res.code}"
            f"{'  LOST' if lost else ''}  {res.seconds:5.1f}s",
            flush=True,
        )
    return rows


# --- shell --------------------------------------------------------------------------------------
def suite_shell(args: argparse.Namespace) -> list[dict[str, Any]]:
    from shell_cases import CASES

    rows = []
    for case, env, tmp in _each(CASES, args, "shell"):
        work = tmp / "work"
        work.mkdir()
        if case.setup:
            env.run(["bash", "-c", case.setup], cwd=work)
        failed = env.run(["bash", "-c", case.command + " 2>&1"], cwd=work, timeout=60)
        spool = tmp / "runtime" / "aiw" / "shell"
        spool.mkdir(parents=True, exist_ok=True)
        spool.chmod(0o700)
        event_id = uuid.uuid4().hex[:12]
        out = spool / f"tee-{event_id}.err"
        out.write_text(failed.stdout, encoding="utf-8")
        now = int(time.time() * 1_000_000)
        event = {
            "v": 1,
            "id": event_id,
            "shell": "bash",
            "status": failed.code,
            "cmd": case.command,
            "cwd": str(work),
            "t0": now - 200_000,
            "t1": now,
            "out": str(out),
            "outk": "tee",
        }
        started = time.perf_counter()
        env.run(
            [sys.executable, "-m", "ai_workbench.cli.shell_worker", "--no-detach", "--event",
             json.dumps(event)],
            cwd=work,
        )  # fmt: skip
        res = env.aiw("explain", "--json", "--no-menu", cwd=work)
        seconds = time.perf_counter() - started
        data = res.json() or {}
        fixes = data.get("suggestions") or data.get("fixes") or []
        top = fixes[0] if fixes else {}
        top_cmd = str(top.get("command", "")) if isinstance(top, dict) else ""
        right = bool(top_cmd) and _matches(case.right_fix, top_cmd.strip())
        rows.append(
            {
                "suite": "shell",
                "case": case.name,
                "command": case.command,
                "exit_of_command": failed.code,
                "output": failed.stdout[-300:],
                "fixes": [f.get("command") for f in fixes if isinstance(f, dict)],
                "risks": [f.get("risk_level") for f in fixes if isinstance(f, dict)],
                "right": right,
                "explain_exit": res.code,
                "error": res.stderr.strip()[-300:] if res.code else "",
                "seconds": round(seconds, 1),
            }
        )
        print(
            f"shell   {case.name:<18} {'RIGHT' if right else 'wrong':<6} top: {top_cmd[:60]!r}"
            f"  ({len(fixes)} fixes, exit {res.code})  {seconds:5.1f}s",
            flush=True,
        )
    return rows


# --- grounded answers ---------------------------------------------------------------------------
CITATION = re.compile(r"((?:[\w.-]+/)*[\w.-]+\.md):(\d+)(?:\s*[-–]\s*(\d+))?")


def suite_kb(args: argparse.Namespace) -> list[dict[str, Any]]:
    from kb_cases import CASES, DOCS_COMMIT

    rows = []
    with _temp_root("kb") as tmp:
        env = Env.create(Path(tmp), args.model, args.api_base, profile_toml=args.profile)
        project = Path(tmp) / "project"
        project.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", DOCS_COMMIT, "docs"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(project)], input=archive, check=True)
        new_repo(project, {})
        lines_of = {
            str(p.relative_to(project)): p.read_text(encoding="utf-8").splitlines()
            for p in (project / "docs").glob("*.md")
        }
        indexed = env.aiw("index", cwd=project, timeout=900)
        if indexed.code != 0:
            print(f"kb: aiw index failed: {indexed.stderr.strip()[-400:]}", file=sys.stderr)
        for case in _only(CASES, args):
            res = env.aiw("ask", "--kb", "--json", case.question, cwd=project)
            data = res.json() or {}
            answer = str(data.get("answer") or "")
            anchors = {
                i + 1
                for i, line in enumerate(lines_of.get(case.file, []))
                if re.search(case.anchor, line)
            }
            cites = [
                (m.group(1), int(m.group(2)), int(m.group(3) or m.group(2)))
                for m in CITATION.finditer(answer)
            ]
            right_cite = any(
                path.endswith(case.file.split("/", 1)[-1]) and any(a <= n <= b for n in anchors)
                for path, a, b in cites
            )
            right = bool(answer) and all(re.search(p, answer, re.IGNORECASE) for p in case.answer)
            asked_back = bool(data.get("clarifying_question")) or (
                bool(answer) and answer.rstrip().endswith("?") and not cites
            )
            rows.append(
                {
                    "suite": "kb",
                    "case": case.question,
                    "right_answer": right,
                    "right_citation": right_cite,
                    "cited": len(cites),
                    "asked_back": asked_back,
                    "anchors": sorted(anchors),
                    "citations": [f"{p}:{a}-{b}" for p, a, b in cites],
                    "exit": res.code,
                    "status": data.get("status"),
                    "answer": answer[:600],
                    "error": res.stderr.strip()[-300:] if res.code else "",
                    "seconds": round(res.seconds, 1),
                }
            )
            cite = "RIGHT" if right_cite else "no"
            print(
                f"kb      {'RIGHT' if right else 'wrong':<6} cite {cite:<6}"
                f" cites {len(cites)}{'  ASKED BACK' if asked_back else ''}  exit {res.code}"
                f"  {res.seconds:5.1f}s  {case.question[:60]}",
                flush=True,
            )
            if not anchors:
                print(f"        (bench: no line of {case.file} matches {case.anchor!r})")
    return rows


# --- AI! requests -------------------------------------------------------------------------------
def suite_watch(args: argparse.Namespace) -> list[dict[str, Any]]:
    from watch_cases import CASES

    rows = []
    for case, env, tmp in _each(CASES, args, "watch"):
        repo = new_repo(tmp / "repo", {case.path: case.text})
        started = time.perf_counter()
        now = env.aiw("watch", "--now", cwd=repo)
        listed = env.aiw("suggestions", "list", "--json", cwd=repo).json() or []
        applied = None
        for item in listed:
            if item.get("kind") == "watch":
                applied = env.aiw("suggestions", "apply", str(item["id"]), cwd=repo)
                break
        check = env.run([sys.executable, "-c", case.check], cwd=repo, timeout=30)
        seconds = time.perf_counter() - started
        made = applied is not None and applied.code == 0 and check.code == 0
        rows.append(
            {
                "suite": "watch",
                "case": case.name,
                "made": made,
                "suggestions": len(listed),
                "watch_exit": now.code,
                "apply_exit": applied.code if applied else None,
                "apply_error": (applied.stderr.strip()[-300:] if applied else ""),
                "file_after": (repo / case.path).read_text(encoding="utf-8")[:800],
                "seconds": round(seconds, 1),
            }
        )
        state = "MADE" if made else ("no patch" if applied is None else "not made")
        print(
            f"watch   {case.name:<18} {state:<9} suggestions {len(listed)}"
            f"  watch exit {now.code}  {seconds:5.1f}s",
            flush=True,
        )
    return rows


SUITES = {"review": suite_review, "shell": suite_shell, "kb": suite_kb, "watch": suite_watch}


def _asked_back(row: dict[str, Any]) -> bool:
    # `aiw ask --kb --json` prints {"clarifying_question": ...} and no answer when it asks back
    # (runs saved before the bench read that key show an empty answer with no status).
    return bool(row["asked_back"]) or (
        not row["answer"] and row["exit"] == 0 and row["status"] is None
    )


def summary(rows: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    review = [r for r in rows if r["suite"] == "review"]
    if review:
        bugs = [r for r in review if not r["clean"]]
        clean = [r for r in review if r["clean"]]
        out["review"] = (
            f"bugs named {sum(bool(r['named']) for r in bugs)}/{len(bugs)}; "
            f"clean diffs with noise {sum(bool(r['noise']) for r in clean)}/{len(clean)}; "
            f"replies lost {sum(r['lost'] for r in review)}/{len(review)}"
        )
    shell = [r for r in rows if r["suite"] == "shell"]
    if shell:
        out["shell"] = f"top fix right {sum(r['right'] for r in shell)}/{len(shell)}"
    kb = [r for r in rows if r["suite"] == "kb"]
    if kb:
        out["kb"] = (
            f"right answer {sum(r['right_answer'] for r in kb)}/{len(kb)}; "
            f"right citation {sum(r['right_citation'] for r in kb)}/{len(kb)}; "
            f"no citation {sum(r['cited'] == 0 for r in kb)}/{len(kb)}; "
            f"asked back {sum(_asked_back(r) for r in kb)}/{len(kb)}"
        )
    watch = [r for r in rows if r["suite"] == "watch"]
    if watch:
        out["watch"] = f"requested change made {sum(r['made'] for r in watch)}/{len(watch)}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--api-base", default=DEFAULT_API_BASE)
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument(
        "--profile",
        default="",
        metavar="TOML",
        help="lines added to the model's profile, e.g. 'structured_output = \"off\"'",
    )
    parser.add_argument("--case", action="append", help="only cases whose name contains this")
    parser.add_argument("--label", default=time.strftime("%Y%m%d-%H%M%S"))
    parser.add_argument("--save", action="store_true", help="write results/LABEL.json")
    parser.add_argument("--summarize", metavar="JSON", help="print the figures of a saved run")
    args = parser.parse_args(argv)
    if args.summarize:
        saved = json.loads(Path(args.summarize).read_text(encoding="utf-8"))
        print(f"{saved['label']}: model {saved['model']}")
        for name, line in summary(saved["rows"]).items():
            print(f"  {name:<7} {line}")
        return 0
    why = model_answers(args.api_base)
    if why:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for name in args.suite or list(SUITES):
        rows.extend(SUITES[name](args))
    figures = summary(rows)
    print(f"\n{args.label}: model {args.model} at {args.api_base}, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    for name, line in figures.items():
        print(f"  {name:<7} {line}")
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        target = RESULTS / f"{args.label}.json"
        target.write_text(
            json.dumps({"label": args.label, "model": args.model, "summary": figures,
                        "rows": rows}, indent=1),
            encoding="utf-8",
        )  # fmt: skip
        print(f"saved {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
