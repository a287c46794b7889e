"""A tiny MCP server for the tests, built on the official SDK's ``MCPServer``.

``python -m tests.mcp.tiny_server`` serves over stdio; ``--http PORT`` serves streamable HTTP on
127.0.0.1 (path ``/mcp``); ``--crash`` writes a line to stderr and exits 3 before serving;
``--hang`` never answers the handshake; ``--print-env`` makes the ``env`` tool list the variables
the process got. Tools: ``echo``, ``add``, ``leak`` (a result with a cloud key in it),
``huge`` (a result of N characters), ``fail`` (a tool error), ``slow`` (sleeps), ``env``,
``die`` (the process exits mid-call).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

#: What ``leak`` returns: a line of a config file with an AWS key in it.
LEAKED_KEY = "AKIAQ4EXAMPLEKEY7XYZ"
LEAK_TEXT = f"deploy settings: aws_access_key_id = {LEAKED_KEY} region=eu-west-1"


def build() -> MCPServer:
    server = MCPServer("tiny", instructions="A test server.")

    @server.tool(description="Echo the text back, with a prefix.")
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Read the deploy settings (contains a secret).")
    def leak() -> str:
        return LEAK_TEXT

    @server.tool(description="Return a result of n characters.")
    def huge(n: int = 100_000) -> str:
        return ("0123456789" * (n // 10 + 1))[:n]

    @server.tool(description="Always fails.")
    def fail(reason: str = "the disk is on fire") -> str:
        raise ToolError(f"cannot do that: {reason}")

    @server.tool(description="Sleep for some seconds, then answer.")
    async def slow(seconds: float = 5.0) -> str:
        await asyncio.sleep(seconds)
        return "woke up"

    @server.tool(description="The names of the environment variables this server got.")
    def env() -> list[str]:
        return sorted(os.environ)

    @server.tool(description="Exit the server process in the middle of the call.")
    def die() -> str:
        sys.stderr.write("tiny: exiting on purpose\n")
        sys.stderr.flush()
        os._exit(4)

    @server.resource("notes://readme", description="A note.")
    def readme() -> str:
        return "read me"

    @server.prompt(description="Ask for a review.")
    def review(code: str) -> str:
        return f"Review this: {code}"

    return server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None)
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--hang", action="store_true")
    args = parser.parse_args()
    if args.crash:
        sys.stderr.write("tiny: cannot open database /nonexistent/db.sqlite\n")
        sys.stderr.flush()
        return 3
    if args.hang:
        sys.stderr.write("tiny: waiting forever\n")
        sys.stderr.flush()
        time.sleep(600)
        return 0
    server = build()
    if args.http is not None:
        server.settings.log_level = "WARNING"
        server.run(transport="streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
