"""Round trip of one MCP tool call over stdio and streamable HTTP, outside the tool's own work.

The server is tests/mcp/tiny_server.py (the official SDK's ``MCPServer``); its ``echo`` tool does
no work, so the time is the transport, the SDK on both sides and aiw's own path: ``hub`` is
``McpHub.call`` (what ``aiw mcp call`` uses), ``toolbox`` adds what a model's call goes through
(approval lookup, control-sequence stripping, redaction, the size cut). Start-up (spawning the
server, the handshake, listing tools) is timed separately. Target: p50 ≤ 5 ms per call.

    python bench/mcp.py [--calls 300] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/mcp.py`, this file's folder comes first on sys.path, and this file would
# shadow the SDK's `mcp` package: take the folder off.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from ai_workbench.core.llm.tools import ToolCall  # noqa: E402
from ai_workbench.mcp.config import ServerSpec  # noqa: E402
from ai_workbench.mcp.hub import McpHub  # noqa: E402
from ai_workbench.mcp.toolbox import McpToolbox  # noqa: E402

TARGET_MS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the HTTP server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the HTTP server did not start")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(spec: ServerSpec, calls: int) -> dict[str, float]:
    started = time.perf_counter()
    async with McpHub([spec], call_timeout=30) as hub:
        (conn,) = await hub.start()
        if conn.state != "ready":
            raise SystemExit(f"{spec.name}: {conn.describe()}")
        start_ms = (time.perf_counter() - started) * 1000
        for _ in range(20):  # warm-up
            await hub.call(spec.name, "echo", {"text": "warm"})
        raw: list[float] = []
        for i in range(calls):
            t = time.perf_counter()
            await hub.call(spec.name, "echo", {"text": f"call {i}"})
            raw.append((time.perf_counter() - t) * 1000)
        box = McpToolbox(hub, [spec.name])
        via_box: list[float] = []
        name = f"mcp__{spec.name}__echo"
        for i in range(calls):
            call = ToolCall(i, f"c{i}", name, "", {"text": f"call {i}"})
            t = time.perf_counter()
            outcome = await box.call(call)
            via_box.append((time.perf_counter() - t) * 1000)
            assert outcome.text == f"echo: call {i}", outcome.text
    return {
        "start_ms": start_ms,
        "hub_p50": statistics.median(raw),
        "hub_p95": _pct(raw, 0.95),
        "box_p50": statistics.median(via_box),
        "box_p95": _pct(via_box, 0.95),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--check", action="store_true", help="exit 1 if a p50 is over target")
    args = parser.parse_args()

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    stdio = ServerSpec(
        "stdio", "bench", command=sys.executable, args=["-m", "tests.mcp.tiny_server"],
        env={"PYTHONPATH": str(REPO_ROOT)}, cwd=str(REPO_ROOT), approval="auto",
    )  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.mcp.tiny_server", "--http", str(port)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(port, proc)
        http = ServerSpec("http", "bench", url=f"http://127.0.0.1:{port}/mcp", approval="auto")
        results = {
            "stdio": asyncio.run(_measure(stdio, args.calls)),
            "http": asyncio.run(_measure(http, args.calls)),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"MCP tool call round trip, {args.calls} calls each (tests/mcp/tiny_server.py echo)")
    print(
        f"{'transport':<10}{'start':>10}{'hub p50':>10}{'hub p95':>10}"
        f"{'box p50':>10}{'box p95':>10}"
    )
    over = False
    for name, r in results.items():
        print(
            f"{name:<10}{r['start_ms']:>8.0f}ms{r['hub_p50']:>8.2f}ms{r['hub_p95']:>8.2f}ms"
            f"{r['box_p50']:>8.2f}ms{r['box_p95']:>8.2f}ms"
        )
        over = over or max(r["hub_p50"], r["box_p50"]) > TARGET_MS
    print(f"target: p50 <= {TARGET_MS:g} ms per call: {'MISSED' if over else 'met'}")
    return 1 if over and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
