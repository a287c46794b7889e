from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest


def doc_cli(run_aiw: Any, fake: Any, cwd: Path, *args: str, **kw: Any) -> Any:
    """`aiw doc ARGS` in ``cwd`` against the loopback model."""
    if args and args[0] in ("new", "regen"):
        args = (*args, "--model", "openai/echo", "--api-base", fake.base_url)
    return run_aiw("doc", *args, cwd=cwd, **kw)


@pytest.fixture
def project(isolated_env: Any) -> Path:
    """A small real project: a FastAPI-style app, a compose file and a pyproject."""
    root = isolated_env.work / "shop"
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\ndescription = "A small shop API"\n'
        'dependencies = [\n  "fastapi>=0.110",\n  "asyncpg>=0.29",\n]\n'
    )
    (root / "app.py").write_text(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
        '@app.get("/items/{item_id}")\n'
        "async def read_item(item_id: int):\n"
        '    """Return one item."""\n'
        '    return {"id": item_id}\n\n\n'
        '@app.post("/items")\n'
        "async def create_item(item: dict):\n"
        '    """Create an item."""\n'
        "    return item\n"
    )
    (root / "compose.yaml").write_text(
        "services:\n  web:\n    build: .\n    ports: ['8000:8000']\n  db:\n    image: postgres:16\n"
    )
    return root
