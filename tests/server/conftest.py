"""The real API under uvicorn on 127.0.0.1 (a thread per test), real SQLite, the loopback model.

``api`` starts the app made by :func:`ai_workbench.server.app.create_app` on a free port, with a
user config whose default provider is the loopback fake LLM, and gives an :class:`Api`: its
``url``, its ``app`` state, ``user(name, admin=False)`` (a real user and token made with the
users service) and ``client(token)`` (an httpx client with that bearer token).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IsolatedEnv
from tests.fake_llm import FakeLLM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_config(fake_llm: FakeLLM, extra: str = "") -> str:
    return (
        'default_provider = "fake"\n'
        "[providers.fake]\n"
        'model = "openai/echo"\n'
        f'api_base = "{fake_llm.base_url}"\n'
        "local = true\n"
        "context_window = 8192\n"
        "[providers.slow]\n"
        'model = "openai/slow"\n'
        f'api_base = "{fake_llm.base_url}"\n'
        "local = true\n"
        "context_window = 8192\n" + extra
    )


@dataclass
class Api:
    url: str
    app: Any
    db_path: Path
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def state(self) -> Any:
        return self.app.state.aiw

    def user(self, name: str, admin: bool = False) -> str:
        """Add a user with the real users service (its own connection); their token."""
        from ai_workbench.store import Store
        from ai_workbench.users.service import UserService

        async def go() -> str:
            async with Store(self.db_path) as store:
                _, token = await UserService(store).add(name, admin=admin)
            return token

        return asyncio.run(go())

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)
        self.clients.append(client)
        return client


class _Server(threading.Thread):
    def __init__(self, app: Any, port: int) -> None:
        super().__init__(daemon=True, name=f"uvicorn-{port}")
        import uvicorn

        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


def start_api(
    isolated_env: IsolatedEnv, fake_llm: FakeLLM, project: Path, extra_config: str = ""
) -> tuple[Api, _Server]:
    from ai_workbench.core.settings import load_config
    from ai_workbench.server.app import create_app

    isolated_env.write_user_config(model_config(fake_llm, extra_config))
    db_path = isolated_env.aiw_data / "aiw.db"
    app = create_app(load_config(cwd=project), project_root=project, db_path=db_path)
    port = free_port()
    server = _Server(app, port)
    server.start()
    deadline = time.monotonic() + 15
    while not server.server.started:
        if not server.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return Api(f"http://127.0.0.1:{port}", app, db_path), server


@pytest.fixture
def api_config() -> str:
    """Extra user config for the ``api`` fixture (a test module may override it)."""
    return ""


@pytest.fixture
def api(isolated_env: IsolatedEnv, fake_llm: FakeLLM, api_config: str) -> Iterator[Api]:
    project = isolated_env.work / "project"
    project.mkdir(exist_ok=True)
    api, server = start_api(isolated_env, fake_llm, project, api_config)
    try:
        yield api
    finally:
        for client in api.clients:
            client.close()
        server.stop()
