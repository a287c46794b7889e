"""The knowledge index is private (issue 13, item 5).

Whichever command creates aiw's data dir, it is 0700 and the index's files are 0600; indexed
text is redacted before it is stored, embedded or shown, and an index written before that is
redacted on display and rewritten by the next `aiw index`. Real subprocesses, real SQLite.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import SHOP_SECRET, IsolatedEnv, RunAiw

GITHUB_TOKEN = "ghp_Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _index_dir(env: IsolatedEnv) -> Path:
    (found,) = (env.aiw_data / "knowledge").iterdir()
    return found


@pytest.mark.parametrize("first", ["index", "search"])
def test_data_dir_and_index_files_are_private_whichever_command_runs_first(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, shop_project: Path, first: str
) -> None:
    assert not isolated_env.aiw_data.exists()
    run_aiw(first, *(["invoice"] if first == "search" else []), cwd=shop_project)
    if first == "search":
        assert run_aiw("index", cwd=shop_project).returncode == 0
    assert _mode(isolated_env.aiw_data) == 0o700
    index_dir = _index_dir(isolated_env)
    assert _mode(index_dir.parent) == 0o700 and _mode(index_dir) == 0o700
    files = [p for p in index_dir.iterdir() if p.name.startswith("index.db")]
    assert files and all(_mode(p) == 0o600 for p in files), [(p.name, oct(_mode(p))) for p in files]
    assert _mode(index_dir / "chroma") == 0o700
    assert _mode(index_dir / "runs") == 0o700


def test_an_existing_world_readable_index_is_tightened(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, shop_project: Path
) -> None:
    assert run_aiw("index", cwd=shop_project).returncode == 0
    index_dir = _index_dir(isolated_env)
    for path in (isolated_env.aiw_data, index_dir.parent, index_dir):
        path.chmod(0o755)
    (index_dir / "index.db").chmod(0o644)
    assert run_aiw("search", "invoice", cwd=shop_project).returncode == 0
    assert _mode(isolated_env.aiw_data) == 0o700 and _mode(index_dir) == 0o700
    assert _mode(index_dir / "index.db") == 0o600


def _db_bytes(index_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in index_dir.iterdir() if p.name.startswith("index.db"))


def test_indexed_secrets_are_never_stored_or_shown(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, shop_project: Path
) -> None:
    (shop_project / "deploy.md").write_text(
        f"# Deploy\n\nThe release bot uses the token {GITHUB_TOKEN} to push tags.\n"
    )
    assert run_aiw("index", cwd=shop_project).returncode == 0
    index_dir = _index_dir(isolated_env)
    stored = _db_bytes(index_dir)
    assert SHOP_SECRET.encode() not in stored and GITHUB_TOKEN.encode() not in stored
    assert b"[REDACTED:" in stored
    for query in (["AWS_KEY"], ["release", "bot", "token"]):
        found = run_aiw("search", "--json", *query, cwd=shop_project)
        assert found.returncode == 0, found.stderr
        assert SHOP_SECRET not in found.stdout and GITHUB_TOKEN not in found.stdout
        assert "[REDACTED:" in json.loads(found.stdout)["results"][0]["text"]


def test_an_index_written_before_redaction_is_redacted_on_display_and_rewritten(
    run_aiw: RunAiw, isolated_env: IsolatedEnv, shop_project: Path
) -> None:
    # An index as older aiw wrote it: raw text, no redaction mark.
    assert run_aiw("index", "--no-embed", cwd=shop_project).returncode == 0
    index_dir = _index_dir(isolated_env)
    from ai_workbench.knowledge.chunkers import Chunk
    from ai_workbench.knowledge.lexical import LexicalIndex
    from ai_workbench.knowledge.service import chunk_uid

    raw = f'AWS_KEY = "{SHOP_SECRET}"\nVAT_DEFAULT = 0.2'
    settings_py = shop_project / "billing" / "settings.py"
    index = LexicalIndex(index_dir / "index.db")
    with index.db:
        index.replace_file(
            "billing/settings.py", "old", settings_py.stat().st_size, settings_py.stat().st_mtime,
            [(chunk_uid("billing/settings.py", raw, 0),
              Chunk("billing/settings.py", 1, 2, "code", "", raw))],
        )  # fmt: skip
        index.db.execute("DELETE FROM meta WHERE key = 'redaction'")
    index.close()
    assert SHOP_SECRET.encode() in _db_bytes(index_dir)

    shown = run_aiw("search", "--json", "AWS_KEY", "VAT_DEFAULT", cwd=shop_project)
    assert shown.returncode == 0, shown.stderr
    assert "billing/settings.py" in shown.stdout and SHOP_SECRET not in shown.stdout

    again = run_aiw("index", "--no-embed", cwd=shop_project)
    assert again.returncode == 0, again.stderr
    assert SHOP_SECRET.encode() not in _db_bytes(index_dir)
