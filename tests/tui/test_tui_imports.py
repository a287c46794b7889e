"""Importing the workbench stays cheap: no litellm, chromadb or pydantic before the first frame."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import REPO_ROOT

HEAVY = ("litellm", "chromadb", "pydantic", "aiosqlite", "httpx", "ai_workbench.core.settings")


def _probe(code: str, timeout: float = 120) -> Any:
    """Run ``code`` in a fresh interpreter from the repo root; the JSON on its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_app_loads_no_heavy_modules() -> None:
    code = (
        "import json, sys\n"
        "import ai_workbench.tui.app\n"
        "import ai_workbench.cli.main\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    assert _probe(code, timeout=60) == []


def test_the_core_never_imports_textual() -> None:
    code = (
        "import sys\n"
        "import ai_workbench.chat.service, ai_workbench.chat.sessions, ai_workbench.core.feedback\n"
        "import ai_workbench.suggestions.service, ai_workbench.core.project_files\n"
        "print('textual' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# What the first frame must not wait for: the panes that are not on it (the suggestions pane
# mounts after it, the file tree on F2), and TOML parsing when there is no config to read.
NOT_BEFORE_FIRST_FRAME = (
    "ai_workbench.tui.panes.suggestions",
    "ai_workbench.tui.widgets.suggestions",
    "ai_workbench.tui.widgets.file_tree",
    "tomllib",
)

FIRST_FRAME_PROBE = f"""
import asyncio, gc, json, sys
gc.disable()  # as `aiw` does (cli/main.py) before it imports the workbench
from textual.widgets._footer import FooterKey
from ai_workbench.tui.app import AiwApp
from ai_workbench.tui.widgets.chips import Chip

seen = {{}}

class Probe(AiwApp):
    def compose(self):
        seen["screen_classes_at_compose"] = sorted(self.screen.classes)
        yield from super().compose()

    def on_mount(self):  # Textual calls AiwApp.on_mount after this one
        seen["chips_at_mount"] = [str(chip.render()) for chip in self.query(Chip)]

    def on_ready(self):
        seen["loaded_at_first_frame"] = [m for m in {NOT_BEFORE_FIRST_FRAME!r} if m in sys.modules]

async def main():
    app = Probe(cwd=__import__("pathlib").Path.cwd())
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.pause()
        seen["suggestions_mounted"] = app.suggestions_panel() is not None
        await app.ctx.config_ready.wait()  # the start-up after the first frame has run
        seen["gc_enabled"] = gc.isenabled()
        keys = list(app.query(FooterKey))
        app.screen.refresh_bindings()  # the same keys announced again
        await pilot.pause()
        seen["footer_keys"] = len(keys)
        seen["footer_rebuilt"] = [id(k) for k in app.query(FooterKey)] != [id(k) for k in keys]

asyncio.run(main())
print(json.dumps(seen))
"""


def test_the_first_frame_waits_for_nothing_it_does_not_show(isolated_env: object) -> None:
    seen = _probe(FIRST_FRAME_PROBE)
    # Hidden or later panes, and tomllib without a config file, load after the first frame.
    assert seen["loaded_at_first_frame"] == []
    # ... and the suggestions pane does mount right after it.
    assert seen["suggestions_mounted"] is True
    # The screen starts with its width class, so no restyle of every widget before the frame.
    assert seen["screen_classes_at_compose"] == ["-wide"]
    # `aiw` starts with the garbage collector off; the first frame turns it back on.
    assert seen["gc_enabled"] is True
    # The chips are composed with their bar, not filled in by a rebuild that holds the frame.
    assert seen["chips_at_mount"] == ["persona: none", "model: …"]
    # The footer shows its keys, and is not rebuilt when the same keys are announced again
    # (start-up announces them five times; each rebuild held the first frame back).
    assert seen["footer_keys"] > 3
    assert seen["footer_rebuilt"] is False


MCP_PROBE = """
import asyncio, json, sys
from ai_workbench.tui.app import AiwApp

MCP_MODULES = ("mcp", "ai_workbench.mcp.hub", "ai_workbench.mcp.config", "ai_workbench.tui.mcp")
seen = {}

class Probe(AiwApp):
    def on_ready(self):
        seen["loaded_at_first_frame"] = [m for m in MCP_MODULES if m in sys.modules]
        seen["chips_at_first_frame"] = [c.data.kind for c in self.chip_bar.query("Chip")]

async def main():
    app = Probe(cwd=__import__("pathlib").Path.cwd())
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(1500):
            await pilot.pause(0.02)
            mcp = app.ctx.mcp
            if mcp is not None and len(mcp.states) == 3 and all(
                s.state == "ready" for s in mcp.states.values()
            ):
                break
        mcp = app.ctx.mcp
        seen["states"] = {n: mcp.state(n).state for n in mcp.names} if mcp else {}
        seen["chips_after"] = [c.data.label for c in app.chip_bar.query("Chip")]

asyncio.run(main())
print(json.dumps(seen))
"""


def test_mcp_servers_start_after_the_first_frame(isolated_env: object) -> None:
    """With three servers configured, nothing of MCP is imported before the first frame (no
    chip either); after it the servers start together and the tools chip appears."""
    tables = "".join(
        f"[mcp.servers.s{i}]\ncommand = {json.dumps(sys.executable)}\n"
        f'args = ["-m", "tests.mcp.tiny_server"]\ncwd = {json.dumps(str(REPO_ROOT))}\n\n'
        for i in range(3)
    )
    isolated_env.write_user_config(tables)  # type: ignore[attr-defined]
    seen = _probe(MCP_PROBE)
    assert seen["loaded_at_first_frame"] == []
    assert "mcp" not in seen["chips_at_first_frame"]
    assert seen["states"] == {"s0": "ready", "s1": "ready", "s2": "ready"}
    assert "tools: off (3 MCP)" in seen["chips_after"]
