"""Shared fixtures: an isolated environment for every test, the loopback fake LLM, ``run_aiw``.

No test may reach the internet: every test runs with fresh XDG dirs, no provider keys, no
proxies and litellm's bundled cost map, and in-process sockets may only connect to loopback.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.fake_llm import FakeLLM

REPO_ROOT = Path(__file__).resolve().parent.parent

# litellm fetches its model cost map from GitHub at import time unless told not to; set it
# before anything (a test module, a plugin) can import litellm during collection.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

#: Provider credentials and endpoints removed from every test's environment (on top of
#: ``AIW_*`` and anything ending in ``_API_KEY``).
PROVIDER_ENV_VARS: tuple[str, ...] = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "OPENAI_ORG_ID",
    "OPENAI_ORGANIZATION",
    "OPENAI_PROJECT_ID",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "VERTEXAI_PROJECT",
    "VERTEXAI_LOCATION",
    "DEEPSEEK_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "OPENROUTER_API_KEY",
    "TOGETHER_API_KEY",
    "TOGETHERAI_API_KEY",
    "XAI_API_KEY",
    "COHERE_API_KEY",
    "CO_API_KEY",
    "FIREWORKS_API_KEY",
    "FIREWORKS_AI_API_KEY",
    "PERPLEXITYAI_API_KEY",
    "PERPLEXITY_API_KEY",
    "CEREBRAS_API_KEY",
    "HUGGINGFACE_API_KEY",
    "HF_TOKEN",
    "AZURE_API_KEY",
    "AZURE_API_BASE",
    "AZURE_API_VERSION",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION_NAME",
    "OLLAMA_HOST",
    "OLLAMA_API_BASE",
    "LITELLM_API_KEY",
    "LITELLM_PROXY_API_BASE",
    "LLM_USER_PATH",
)
PROXY_ENV_VARS: tuple[str, ...] = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@dataclass(frozen=True)
class IsolatedEnv:
    """The fresh per-test directories that ``HOME`` and the ``XDG_*`` variables point at."""

    root: Path
    home: Path
    config: Path
    data: Path
    cache: Path
    state: Path
    runtime: Path
    work: Path

    @property
    def aiw_config(self) -> Path:
        """Where aiw's user config lives (``$XDG_CONFIG_HOME/aiw``)."""
        return self.config / "aiw"

    @property
    def aiw_data(self) -> Path:
        """Where aiw's user data lives (``$XDG_DATA_HOME/aiw``)."""
        return self.data / "aiw"

    def write_user_config(self, text: str, name: str = "config.toml") -> Path:
        """Write the user's ``config.toml`` (or ``name``, say ``keys.toml``); its path."""
        path = self.aiw_config / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedEnv:
    """Point HOME and XDG dirs at ``tmp_path``, drop keys/proxies/``AIW_*``, force offline bits."""
    root = tmp_path / "env"
    env = IsolatedEnv(
        root=root,
        home=root / "home",
        config=root / "config",
        data=root / "data",
        cache=root / "cache",
        state=root / "state",
        runtime=root / "runtime",
        work=tmp_path / "work",
    )
    for path in (env.home, env.config, env.data, env.cache, env.state, env.work):
        path.mkdir(parents=True, exist_ok=True)
    env.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)

    monkeypatch.setenv("HOME", str(env.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env.config))
    monkeypatch.setenv("XDG_DATA_HOME", str(env.data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(env.cache))
    monkeypatch.setenv("XDG_STATE_HOME", str(env.state))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(env.runtime))

    for name in list(os.environ):
        if name.startswith("AIW_") or name.endswith("_API_KEY") or name in PROVIDER_ENV_VARS:
            monkeypatch.delenv(name, raising=False)
    for name in PROXY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)

    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return env


# -- the fake LLM server ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    """One loopback OpenAI-compatible server for the whole session."""
    with FakeLLM() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> FakeLLM:
    """The session's fake server, reset (echo mode, no delay, no recorded requests)."""
    fake_llm_server.reset()
    return fake_llm_server


# -- running the CLI --------------------------------------------------------------------------


class RunAiw(Protocol):
    def __call__(
        self,
        *args: str,
        input: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def run_aiw(isolated_env: IsolatedEnv) -> RunAiw:
    """Run ``python -m ai_workbench ARGS`` in a subprocess with the isolated environment.

    The environment is a copy of ``os.environ`` taken at call time (so ``monkeypatch.setenv``
    done in the test applies), with the repo root on ``PYTHONPATH`` and ``env`` applied on top.
    ``cwd`` defaults to the test's empty ``isolated_env.work`` dir.
    """

    def run(
        *args: str,
        input: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        proc_env = dict(os.environ)
        pythonpath = proc_env.get("PYTHONPATH")
        proc_env["PYTHONPATH"] = (
            f"{REPO_ROOT}{os.pathsep}{pythonpath}" if pythonpath else str(REPO_ROOT)
        )
        if env:
            proc_env.update(env)
        return subprocess.run(
            [sys.executable, "-m", "ai_workbench", *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=cwd if cwd is not None else isolated_env.work,
            env=proc_env,
            timeout=timeout,
            check=False,
        )

    return run


# -- no internet in-process -------------------------------------------------------------------


def _is_local_address(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = address[0]
    if not isinstance(host, str):
        return True
    if host in ("localhost", ""):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a host name that was not resolved first: treat as remote
    return ip.is_loopback or ip.is_unspecified


@pytest.fixture(autouse=True, scope="session")
def _no_internet() -> Iterator[None]:
    """Make in-process connections to anything but loopback fail loudly."""
    original_connect: Callable[..., Any] = socket.socket.connect
    original_connect_ex: Callable[..., Any] = socket.socket.connect_ex

    def guard(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local_address(address):
            raise ConnectionRefusedError(f"tests must not touch the network (connect to {address})")

    def connect(self: socket.socket, address: Any) -> None:
        guard(self, address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(self, address)
        return int(original_connect_ex(self, address))

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]


SHOP_SECRET = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def shop_project(isolated_env: IsolatedEnv) -> Path:
    """A small project (code with a secret in it, a README) for the knowledge tests."""
    root = isolated_env.work / "shop"
    (root / ".git").mkdir(parents=True)
    (root / "billing").mkdir()
    (root / "billing" / "invoice.py").write_text(
        "def invoice_total(lines, vat_rate):\n"
        '    """Sum the invoice lines and add VAT at vat_rate."""\n'
        "    net = sum(line.amount for line in lines)\n"
        "    return net * (1 + vat_rate)\n"
    )
    (root / "billing" / "settings.py").write_text(f'AWS_KEY = "{SHOP_SECRET}"\nVAT_DEFAULT = 0.2\n')
    (root / "README.md").write_text("# Shop\n\nA shop.\n\n## Invoices\n\nInvoices add VAT.\n")
    return root


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the ``store`` fixture's database lives (a module may override it)."""
    return tmp_path / "x.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Any]:
    """A real aiw database (all migrations applied) at ``db_path``, closed afterwards."""
    from ai_workbench.store import Store

    s = await Store.open(db_path)
    try:
        yield s
    finally:
        await s.close()
