"""Helpers every ``aiw`` command module shares: error handling, settings, the store.

Only click and the standard library load here (plus ``core.errors``, which is tiny): every
command module imports this at module level, and ``aiw --help`` imports every command module.

* :func:`guard` runs a command body and turns a known error into one ``aiw: error: ...`` line and
  its exit code (``AIW_DEBUG=1`` shows the traceback of an unexpected one);
* :func:`run_async` does the same for a coroutine;
* :func:`fail` prints one error line and exits with a code;
* :func:`load_settings` loads the effective settings, root flags (``aiw --offline``) and the
  command's own flags applied on top;
* :func:`open_store` opens the user database;
* :data:`CONTEXT_SETTINGS` gives every command ``-h`` and the same help width;
* :func:`probe_options` adds ``--json`` and ``--timeout`` (for local servers) to a command that
  asks the local model servers (``aiw models``, ``aiw doctor``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click

from ai_workbench.core.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, AiwError

__all__ = [
    "CONTEXT_SETTINGS",
    "fail",
    "guard",
    "load_settings",
    "open_store",
    "probe_options",
    "run_async",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(message: str, code: int) -> NoReturn:
    """Print ``aiw: error: MESSAGE`` on stderr (control sequences stripped) and exit."""
    from ai_workbench.core.sanitize import strip_controls

    click.echo(f"aiw: error: {strip_controls(message)}", err=True)
    sys.exit(code)


def guard(func: Callable[[], T]) -> T:
    """Run a command body, turning known errors into one line and an exit code."""
    try:
        return func()
    except AiwError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        click.echo("aiw: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # ConfigError can only come from an imported ai_workbench.core.settings; importing it here
        # up front would load pydantic (~0.1 s) before the workbench's first frame.
        config = sys.modules.get("ai_workbench.core.settings")
        if config is not None and isinstance(exc, config.ConfigError):
            fail(str(exc), exc.exit_code)
        if os.environ.get("AIW_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {exc} (a bug; run with AIW_DEBUG=1 for "
            "the traceback and please report it)",
            EXIT_INTERNAL,
        )


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``factory()`` makes, under :func:`guard`."""
    return guard(lambda: asyncio.run(factory()))


def load_settings(ctx: click.Context | None = None, **cli: Any) -> Any:
    """The effective settings (a ``LoadedConfig``): the root command's flags (``ctx.obj``), then
    the non-``None`` keyword overrides of the command itself, over files and environment."""
    from ai_workbench.core.settings import load_config

    root = ctx.find_root() if ctx else None
    overrides = dict(root.obj or {}) if root else {}
    overrides.update({k: v for k, v in cli.items() if v is not None})
    return guard(lambda: load_config(overrides))


def probe_options(command: F) -> F:
    """``--json`` (as ``as_json``) and ``--timeout`` (seconds each local server has to answer)."""
    command = click.option(
        "--timeout",
        type=click.FloatRange(0.05, 30),
        default=0.8,
        show_default=True,
        help="Seconds each local server has to answer.",
    )(command)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)


async def open_store() -> Any:
    """Open the user database (the caller closes it)."""
    from ai_workbench.store import Store

    return await Store.open()
