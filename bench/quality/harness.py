"""Shared plumbing for the quality benchmarks: an isolated aiw, pointed at one real model.

Every suite drives aiw through its command line (`python -m ai_workbench ...` from this checkout),
so the figures measure what a user gets and survive refactors of the code underneath. Each run
gets a fresh HOME, XDG dirs and data dir in a temp dir; nothing in the user's own config or
database is read or written. The model is named once (a profile written into the temp config),
so review, shell analysis, watch and grounded answers all use the same one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

#: What `../shared/tools/local-model start` serves.
DEFAULT_MODEL = "openai/local-qwen"
DEFAULT_API_BASE = "http://127.0.0.1:8765/v1"


@dataclass
class Env:
    """A throwaway HOME with a config that names the model under test."""

    root: Path
    model: str
    api_base: str
    timeout: float = 600.0
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls, root: Path, model: str, api_base: str, extra_toml: str = "", profile_toml: str = ""
    ) -> Env:
        home = root / "home"
        for sub in ("home", "config", "data", "cache", "state", "runtime"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "runtime").chmod(0o700)
        config_dir = root / "config" / "aiw"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "config.toml").write_text(
            'default_provider = "bench"\n'
            "fallback = []\n"
            "request_timeout = 600\n"
            f"{extra_toml}\n"
            "[providers.bench]\n"
            f'model = "{model}"\n'
            f'api_base = "{api_base}"\n'
            "local = true\n"
            f"{profile_toml}\n",
            encoding="utf-8",
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIW_")
            and not key.endswith("_API_KEY")
            and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(root / "config"),
            XDG_DATA_HOME=str(root / "data"),
            XDG_CACHE_HOME=str(root / "cache"),
            XDG_STATE_HOME=str(root / "state"),
            XDG_RUNTIME_DIR=str(root / "runtime"),
            PYTHONPATH=str(REPO_ROOT),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            NO_COLOR="1",
            COLUMNS="200",
            TERM="dumb",
        )
        return cls(root=root, model=model, api_base=api_base, vars=env)

    def aiw(self, *args: str, cwd: Path, timeout: float | None = None) -> Result:
        return self.run([sys.executable, "-m", "ai_workbench", *args], cwd=cwd, timeout=timeout)

    def run(self, argv: list[str], cwd: Path, timeout: float | None = None) -> Result:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=self.vars,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=timeout or self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return Result(
                -1,
                _text(exc.stdout),
                _text(exc.stderr) + "\n[bench: timed out]",
                time.perf_counter() - start,
            )
        return Result(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        """The last JSON document on stdout (commands print one), or None."""
        text = self.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            for line in reversed(text.splitlines()):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return None


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        },
    )


def new_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository holding ``files``, committed once."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "start")
    return path


def temp_root(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=f"aiw-quality-{prefix}-")


def model_answers(api_base: str) -> str | None:
    """None when the model's server answers /models, else why not."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api_base.rstrip('/')}/models", timeout=5) as response:
            response.read()
        return None
    except (urllib.error.URLError, OSError) as exc:
        return f"{api_base} does not answer ({exc}); start: ../shared/tools/local-model start"
