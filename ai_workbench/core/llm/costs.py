"""What an answer cost, from litellm's price table, offline and without importing litellm.

litellm ships its model price map as a JSON file inside the package
(``model_prices_and_context_window_backup.json``). Importing litellm to reach it would cost over
a second, and ``litellm.completion_cost`` also wants the network for the fresh map, so the file
is located with :func:`importlib.util.find_spec` (which does not run the package) and read once,
on first use (~30 ms, call it from a worker). Prices are US dollars per token.

- A model the table knows costs its listed price, wherever it is served from (a local proxy may
  forward to the paid API).
- A model the table does not know costs 0 when it runs on this machine or a private network
  (Ollama, LM Studio, a local vLLM), else its cost is unknown: ``None``, shown as nothing rather
  than a guess.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

__all__ = ["cost_of", "format_cost", "price_for", "price_table"]

PRICE_FILE = "model_prices_and_context_window_backup.json"


@functools.cache
def price_table() -> dict[str, dict[str, Any]]:
    """litellm's bundled price map (empty when litellm or the file is missing)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    for location in spec.submodule_search_locations:
        path = Path(location) / PRICE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if isinstance(v, dict)}
    return {}


def price_for(model: str) -> tuple[float, float] | None:
    """(input, output) dollars per token for a litellm model name, or None if unknown."""
    table = price_table()
    route, _, name = model.partition("/")
    candidates = [model]
    if name:
        candidates += [name, f"{route}/{name.rsplit('/', 1)[-1]}", name.rsplit("/", 1)[-1]]
    for key in candidates:
        entry = table.get(key)
        if entry is None:
            continue
        try:
            return float(entry.get("input_cost_per_token") or 0.0), float(
                entry.get("output_cost_per_token") or 0.0
            )
        except (TypeError, ValueError):
            return None
    return None


def cost_of(
    model: str, tokens_in: int | None, tokens_out: int | None, *, is_local: bool = False
) -> float | None:
    """Dollars for one call; 0 for an unpriced local model; None when it cannot be known."""
    price = price_for(model)
    if price is None:
        return 0.0 if is_local else None
    if tokens_in is None and tokens_out is None:
        return None
    return (tokens_in or 0) * price[0] + (tokens_out or 0) * price[1]


def format_cost(dollars: float | None) -> str:
    """``$0.0123`` style, enough digits to see small per-message costs; "" when unknown."""
    if dollars is None:
        return ""
    if dollars == 0:
        return "$0"
    if dollars < 0.01:
        return f"${dollars:.4f}"
    return f"${dollars:.2f}"
