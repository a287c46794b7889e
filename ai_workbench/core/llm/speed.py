"""How fast a model reads a prompt, and what that allows: the first-token wait, context budgets.

On a CPU a local model evaluates the prompt before its first token: Qwen2.5-Coder-1.5B read
3,200-4,000 tokens of excerpts in 46-65 s (~65 tokens/s) on 2 cores. So the wait for the
first token gets its own timeout, and callers that choose how much context to send (grounded
answers) size it by the model's speed.

The speed is the profile's ``prompt_tokens_per_second`` when set, else measured: every
request whose prompt was long enough to dominate the wait (``MIN_TOKENS``) updates a running
figure per endpoint and model in ``<data dir>/model_speed.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from ai_workbench.core import paths
from ai_workbench.core.llm.profiles import ResolvedProvider

FILE_NAME = "model_speed.json"
MIN_TOKENS = 300  # below this, connection and load time dominate the first-token wait
LOCAL_FIRST_TOKEN_TIMEOUT = 180.0
# Grounded answers: aim for the prompt to be read within this many seconds.
TARGET_PROMPT_SECONDS = 20.0
MIN_BUDGET_TOKENS = 600
MAX_BUDGET_TOKENS = 6_000


def _file() -> Path:
    return paths.data_dir() / FILE_NAME


def _key(provider: ResolvedProvider) -> str:
    return f"{provider.endpoint}|{provider.bare_model}"


def _load() -> dict[str, dict[str, float]]:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measured_rate(provider: ResolvedProvider) -> float | None:
    entry = _load().get(_key(provider))
    if isinstance(entry, dict):
        value = entry.get("prompt_tokens_per_second")
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


def prompt_rate(provider: ResolvedProvider) -> float | None:
    """Tokens per second the model reads: the profile's figure, else the measured one."""
    return provider.prompt_tokens_per_second or measured_rate(provider)


def record(
    provider: ResolvedProvider, tokens_in: int | None, first_token_ms: int | None
) -> float | None:
    """Fold one request's timing into the stored figure; returns the rate it implies.

    Only prompts of ``MIN_TOKENS`` or more count. The stored figure moves halfway towards each
    new measurement (a loaded machine is slower; one outlier does not rule). Written only when
    it changes by more than 10 %."""
    if not tokens_in or tokens_in < MIN_TOKENS or not first_token_ms or first_token_ms <= 0:
        return None
    rate = tokens_in / (first_token_ms / 1000)
    data = _load()
    key = _key(provider)
    entry = data.get(key) if isinstance(data.get(key), dict) else {}
    old = entry.get("prompt_tokens_per_second") if entry else None
    new = rate if not isinstance(old, (int, float)) or old <= 0 else (old + rate) / 2
    if isinstance(old, (int, float)) and old > 0 and abs(new - old) / old <= 0.10:
        return rate
    data[key] = {"prompt_tokens_per_second": round(new, 1), "samples_tokens": tokens_in}
    _write(data)
    return rate


def _write(data: dict[str, dict[str, float]]) -> None:
    path = _file()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".speed-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def first_token_timeout(
    provider: ResolvedProvider, configured: float | None, request_timeout: float
) -> float:
    """Seconds to wait for the first token: the profile's, the global setting, else 180 s
    for a local provider (prompt evaluation on a CPU) and ``request_timeout`` for a cloud one.
    Never shorter than ``request_timeout``."""
    chosen = provider.first_token_timeout or configured
    if chosen is None:
        chosen = LOCAL_FIRST_TOKEN_TIMEOUT if provider.is_local else request_timeout
    return max(chosen, request_timeout)


def prompt_budget_tokens(provider: ResolvedProvider, first_wait: float | None = None) -> int:
    """How many tokens of optional context (retrieved excerpts) to send this model.

    Without a known speed: the context window's share a small window allows (a quarter,
    at most ``MAX_BUDGET_TOKENS``). With one: what the model reads in ``TARGET_PROMPT_SECONDS``
    (and within half the first-token wait), between ``MIN_BUDGET_TOKENS`` and the maximum."""
    window_cap = max(MIN_BUDGET_TOKENS, min(MAX_BUDGET_TOKENS, provider.context_window // 4))
    rate = prompt_rate(provider)
    if rate is None:
        return window_cap
    seconds = TARGET_PROMPT_SECONDS
    if first_wait is not None:
        seconds = min(seconds, first_wait / 2)
    return int(max(MIN_BUDGET_TOKENS, min(window_cap, rate * seconds)))
