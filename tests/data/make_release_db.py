"""Make tests/data/aiw-release-bf46af8.db: a database written by the release at commit bf46af8
(schema version 5), with at least one row in every table, through that release's own APIs.

It must run against the OLD code, not this tree::

    git worktree add /tmp/rel bf46af8
    PYTHONPATH=/tmp/rel python tests/data/make_release_db.py tests/data/aiw-release-bf46af8.db
    git worktree remove --force /tmp/rel

tests/test_store_upgrade.py opens a copy with the current code and reads every row back.
Times are fixed so the file is reproducible apart from SQLite's page layout.
"""

# ruff: noqa: I001  (imports resolve against the old release, not this tree)
from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path


async def fill(path: Path) -> None:
    # The release's module paths (before the package layout moved), so imported here: this
    # script only runs with PYTHONPATH pointing at a checkout of bf46af8.
    from ai_workbench.core.review.models import Finding, ReviewResult
    from ai_workbench.core.review.storage import ReviewStore
    from ai_workbench.store import Store
    from ai_workbench.core.suggestions import SuggestionQueue
    from ai_workbench.shell.events import ShellEventStore
    from ai_workbench.shell.spool import ShellEvent

    async with await Store.open(path) as store:
        # chat: session, messages (complete + partial), attachment, FTS index through triggers
        session = await store.create_session(
            title="release session",
            persona="reviewer",
            model="ollama/qwen2.5-coder",
            context=["Web", "Data"],
            api_base="http://127.0.0.1:11434",
        )
        user_id = await store.add_message(session.id, "user", "how do I rotate the zebra logs?")
        answer_id = await store.add_message(
            session.id, "assistant", "Use logrotate with a weekly zebra stanza.", model="m"
        )
        await store.update_message(
            answer_id, status="partial", tokens_in=12, tokens_out=9, latency_ms=340, cost=0.0012
        )
        await store.add_attachment(user_id, "notes/zebra.txt", sha256="ab" * 32, size=42)
        # feedback (shared by every capability) and the audit log
        await store.set_feedback("message", answer_id, 1, "clear answer")
        await store.set_feedback("chunk", "src/app.py:1-20", -1)
        await store.audit("fix.run", {"command": "ls -la", "exit": 0})

        # suggestions
        queue = SuggestionQueue(store)
        suggestion = await queue.add(
            "shell",
            "make: missing target",
            "Run `make build` instead.",
            actions=[{"id": "apply", "label": "Run it"}],
            payload={"event": 1},
            source="make biuld",
            fingerprint="shell:make-biuld",
        )
        assert suggestion is not None
        await queue.set_status(suggestion.id, "seen")

        # review: run, findings (shown and held), learning with an example
        reviews = ReviewStore(store)
        run_id = await reviews.start_run("/repo", "staged", "", "m", "reviewer", True)
        shown = Finding(
            "src/app.py", 3, 4, "warning", "bug", "Off by one", "The loop skips the last item.",
            confidence=0.9, patch="--- a\n+++ b\n", line_text="for i in range(n - 1):",
            fingerprint="fp-shown",
        )  # fmt: skip
        held = Finding(
            "src/util.py", 10, 10, "info", "style", "Long line", "", confidence=0.2,
            held_reason="low-confidence", learning_note="below threshold", fingerprint="fp-held",
        )  # fmt: skip
        result = ReviewResult(
            "/repo", "staged", "", "m", findings=[shown, held], errors=["one chunk timed out"]
        )
        result.run_id = run_id
        result.stats.calls = 2
        result.stats.units = 2  # with errors and units done: status "partial"
        await reviews.finish_run(result)
        learning_id = await reviews.add_learning("/repo", -1, "style", "**/*.py", "No long lines")
        await reviews.add_example(learning_id, held, "noise")

        # shell: a failed command and its analysis
        events = ShellEventStore(store)
        event = ShellEvent(
            id="4242-1700000000-abcd", shell="bash", status=2, cmd="make biuld", cwd="/repo",
            t0=1_700_000_000_000_000, t1=1_700_000_001_500_000,
        )  # fmt: skip
        stored = await events.record(
            event, user="dev", stderr="make: *** No rule to make target 'biuld'.", capture="tmux"
        )
        await events.update(
            stored.id,
            context={"cwd": "/repo"},
            explanation="A typo in the target name.",
            suggestions=[{"description": "fix", "command": "make build", "risk_level": "safe"}],
            model="m",
            status="done",
            cache_key="ck1",
            suggestion_id=suggestion.id,
        )

    # Fixed times, so only ids and page layout differ between runs.
    conn = sqlite3.connect(path)
    with conn:
        for (table,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%created%REAL%'"
        ).fetchall():
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            sets = ["created = 1700000000.0"]
            if "updated" in columns:
                sets.append("updated = 1700000100.0")
            conn.execute(f"UPDATE {table} SET {', '.join(sets)}")
    conn.execute("VACUUM")
    conn.close()


def main() -> None:
    path = Path(sys.argv[1])
    if path.exists():
        sys.exit(f"{path} exists; remove it first")
    asyncio.run(fill(path))
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
