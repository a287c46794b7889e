"""Fixtures for the workbench tests: seeded sessions, an app pointed at the fake model server."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_workbench.store import Store
from ai_workbench.tui.app import AiwApp

SIZE = (120, 36)

SEED = [
    (
        "Design a rate limiter",
        [
            ("user", "How should I rate-limit a public API?"),
            (
                "assistant",
                "Use a **token bucket** per API key.\n\n```python\nbucket = TokenBucket(rate=10)\n"
                "```\n\nStore buckets in Redis so every instance shares them.",
            ),
        ],
    ),
    (
        "Explain git rebase",
        [
            ("user", "What does git rebase do?"),
            ("assistant", "It replays your commits on top of another base commit."),
        ],
    ),
    (
        "Dockerfile layer caching",
        [
            ("user", "Why does my Dockerfile rebuild every layer?"),
            ("assistant", "Copy the lock file and install dependencies before copying the source."),
        ],
    ),
]


async def seed_sessions(seed: list[Any] = SEED) -> list[str]:
    """Sessions with fixed titles and token counts; the first in SEED ends up newest."""
    ids: list[str] = []
    async with await Store.open() as store:
        for title, messages in reversed(seed):
            session = await store.create_session(title=title, model="openai/echo")
            for role, text in messages:
                message_id = await store.add_message(
                    session.id, role, text, model="openai/echo" if role == "assistant" else None
                )
                if role == "assistant":
                    await store.update_message(message_id, tokens_in=20, tokens_out=12)
            ids.append(session.id)
    return list(reversed(ids))


def hold_closed_ports(ports: list[int] | None = None, count: int = 4) -> list[socket.socket]:
    """Sockets bound on 127.0.0.1 but not listening: a connection there is refused, and
    nothing else can listen there while they are held. ``ports``: these (OSError if taken)."""
    held = []
    for port in ports or [0] * count:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            for other in held:
                other.close()
            raise
        held.append(sock)
    return held


def point_local_servers_at(monkeypatch: pytest.MonkeyPatch, ports: list[int]) -> None:
    """Make the probe ask ``ports`` for Ollama, LM Studio, llama.cpp and vLLM (in that order)
    instead of their usual ports, whatever runs on this machine."""
    from ai_workbench.core.llm import probe

    known = [
        dataclasses.replace(server, api_base=f"http://127.0.0.1:{port}/v1")
        for server, port in zip(probe.KNOWN_SERVERS, ports, strict=True)
    ]
    monkeypatch.setattr(probe, "KNOWN_SERVERS", tuple(known))
    monkeypatch.setenv("AIW_PROVIDERS__OLLAMA__API_BASE", f"http://127.0.0.1:{ports[0]}")
    monkeypatch.setenv("AIW_PROVIDERS__LMSTUDIO__API_BASE", f"http://127.0.0.1:{ports[1]}/v1")


@pytest.fixture(autouse=True)
def no_local_servers(isolated_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Nothing answers where the workbench looks for local servers (held, closed ports), so a
    model server running on the test machine changes no test."""
    held = hold_closed_ports()
    ports = [sock.getsockname()[1] for sock in held]
    point_local_servers_at(monkeypatch, ports)
    try:
        yield ports
    finally:
        for sock in held:
            sock.close()


@pytest.fixture
def seeded(isolated_env: Any) -> list[str]:
    return asyncio.run(seed_sessions())


@pytest.fixture
def make_app(isolated_env: Any) -> Callable[..., AiwApp]:
    def make(**kwargs: Any) -> AiwApp:
        kwargs.setdefault("cwd", isolated_env.work)
        return AiwApp(**kwargs)

    return make


@pytest.fixture
def echo_app(make_app: Callable[..., AiwApp], fake_llm: Any) -> Callable[..., AiwApp]:
    """An app whose model is the fake server's ``echo`` (or another fake model name)."""

    def make(model: str = "echo", **kwargs: Any) -> AiwApp:
        return make_app(model=f"openai/{model}", api_base=fake_llm.base_url, **kwargs)

    return make


async def settle(pilot: Any, app: AiwApp) -> None:
    """Let start-up and every worker finish, then let the screen catch up."""
    await pilot.pause()
    # DirectoryTree keeps a loader worker alive for as long as it is mounted: skip it.
    # (an empty list means "every worker" to wait_for_complete, hence the check).
    workers = [w for w in app.workers if w.group != "_loader"]
    if workers:
        await app.workers.wait_for_complete(workers)
    await pilot.pause()


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")
