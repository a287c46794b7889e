"""Terminal output for the CLI: rendered Markdown on a terminal, plain text in a pipe."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ai_workbench.chat.export import local_time, session_dict
from ai_workbench.core.sanitize import StreamSanitizer, strip_controls

if TYPE_CHECKING:
    from ai_workbench.chat.service import AskResult
    from ai_workbench.chat.store import Session

CODE_BLOCK = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def extract_code(markdown: str) -> str | None:
    blocks = [m.group("body") for m in CODE_BLOCK.finditer(markdown)]
    if not blocks:
        return None
    return "\n".join(block if block.endswith("\n") else block + "\n" for block in blocks)


class AnswerPrinter:
    """Shows an answer as it streams and prints the end result in the chosen mode.

    Everything shown goes through :mod:`ai_workbench.core.sanitize` first (the chat service
    already hands over clean text; this is the last line before the terminal).
    """

    def __init__(self, mode: Literal["stream", "json", "code"] = "stream") -> None:
        self.mode = mode
        self.tty = stdout_is_terminal()
        self.err_tty = sys.stderr.isatty()
        self.text = ""
        self._live: Any = None
        self._last_refresh = 0.0
        self._wrote_plain = False
        # What the waiting line names (set before entering); shown on a terminal's stderr
        # until the first token arrives, so a slow prompt evaluation is not mistaken for a hang.
        self.waiting_for: str | None = None
        self._waiting: _WaitingLine | None = None
        self._clean = StreamSanitizer()

    # notices (stderr) -----------------------------------------------------------------
    def notice(self, message: str) -> None:
        message = strip_controls(message)
        if self._waiting is not None:
            self._waiting.clear()
        if self._live is not None:
            self._live.console.print(f"[dim]aiw: {_escape(message)}[/dim]")
            return
        if self.err_tty:
            _console(stderr=True).print(f"[dim]aiw: {_escape(message)}[/dim]")
        else:
            sys.stderr.write(f"aiw: {message}\n")
            sys.stderr.flush()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing drawn while inside (a question on the terminal: an MCP tool confirmation)."""
        self._stop_waiting()
        live = self._live
        if live is not None:
            live.stop()
        try:
            yield
        finally:
            if live is not None:
                live.start()

    # streaming ------------------------------------------------------------------------
    def __enter__(self) -> AnswerPrinter:
        if self.err_tty and self.waiting_for:
            self._waiting = _WaitingLine(self.waiting_for)
            self._waiting.start()
        return self

    def _stop_waiting(self) -> None:
        if self._waiting is not None:
            self._waiting.stop()
            self._waiting = None

    def _start_live(self) -> None:
        # Started with the first token (not before), so the live view and the waiting line
        # never draw on the terminal at the same time.
        from rich.live import Live
        from rich.markdown import Markdown

        self._markdown = Markdown
        self._live = Live(
            Markdown(""), console=_console(), refresh_per_second=8,
            vertical_overflow="visible", transient=False,
        )  # fmt: skip
        self._live.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_waiting()
        tail = self._clean.flush()
        if tail:
            self._append(tail)
        if self._live is not None:
            self._live.update(self._markdown(self.text), refresh=True)
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
        elif self._wrote_plain and not self.text.endswith("\n"):
            sys.stdout.write("\n")
            sys.stdout.flush()

    def write(self, chunk: str) -> None:
        self._stop_waiting()
        chunk = self._clean.feed(chunk)
        if chunk:
            self._append(chunk)

    def _append(self, chunk: str) -> None:
        self.text += chunk
        if self.mode != "stream":
            return
        if self.tty and self._live is None:
            self._start_live()
        if self._live is not None:
            now = time.monotonic()
            if now - self._last_refresh >= 0.1:
                self._live.update(self._markdown(self.text))
                self._last_refresh = now
            return
        sys.stdout.write(chunk)
        sys.stdout.flush()
        self._wrote_plain = True

    # end ------------------------------------------------------------------------------
    def finish(self, result: AskResult) -> int:
        from ai_workbench.core.errors import EXIT_NO_CODE, EXIT_OK, EXIT_STORAGE

        short = result.session.id[:8]
        code = EXIT_OK
        if self.mode == "json":
            sys.stdout.write(json.dumps(answer_json(result), indent=2) + "\n")
        elif self.mode == "code" and result.error is None:
            extracted = extract_code(result.text)
            if extracted is None:
                self.notice(
                    f"--code: the answer has no fenced code block, so nothing is printed; "
                    f"read it with `aiw sessions show {short}` (exit {EXIT_NO_CODE})"
                )
                code = EXIT_NO_CODE
            else:
                sys.stdout.write(extracted)
        if result.saved_to is not None:
            sys.stderr.write(
                f"aiw: error: the session database stayed locked, so the whole answer was not "
                f"saved in session {short}; it is kept in {result.saved_to}\n"
            )
            return result.error.exit_code if result.error is not None else EXIT_STORAGE
        if result.error is not None:
            if result.text:
                kept = f"; the partial answer is kept in session {short}"
            else:
                kept = (
                    f"; your prompt is kept in session {short} (`aiw sessions show {short}`)"
                    if result.created_session
                    else ""
                )
            sys.stderr.write(f"aiw: error: {strip_controls(str(result.error))}{kept}\n")
            if result.truncated and self.err_tty and self.mode == "stream":
                self.notice(_footer(result))
            return result.error.exit_code
        if self.err_tty and self.mode == "stream":
            self.notice(_footer(result))
        return code


class _WaitingLine:
    """``aiw: waiting for MODEL at URL… 12s`` on stderr, redrawn each second until stopped."""

    def __init__(self, label: str) -> None:
        import threading

        self.label = label
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="aiw-waiting", daemon=True)
        self._shown = False

    def start(self) -> None:
        self._draw()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            elapsed = int(time.monotonic() - self.started)
            sys.stderr.write(f"\r\x1b[2Kaiw: waiting for {self.label}… {elapsed}s")
            sys.stderr.flush()
            self._shown = True

    def clear(self) -> None:
        """Erase the line (a notice is about to be printed; the next tick redraws it)."""
        with self._lock:
            if self._shown:
                sys.stderr.write("\r\x1b[2K")
                sys.stderr.flush()
                self._shown = False

    def stop(self) -> None:
        self._stop.set()
        self.clear()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


def _footer(result: AskResult) -> str:
    stream = result.stream
    parts = [f"session {result.session.id[:8]}"]
    if result.provider is not None:
        parts.append(result.provider.model)
    if stream.tokens_in is not None or stream.tokens_out is not None:
        parts.append(f"{stream.tokens_in or '?'}→{stream.tokens_out or '?'} tokens")
    if result.cost is not None:
        from ai_workbench.core.llm.costs import format_cost

        parts.append(format_cost(result.cost))
    parts.append(f"{result.latency_ms / 1000:.1f}s")
    if result.truncated:
        parts.append("TRUNCATED at the token limit")
    return " · ".join(parts)


def answer_json(result: AskResult) -> dict[str, Any]:
    stream = result.stream
    return {
        "session_id": result.session.id,
        "message_id": result.message_id,
        "status": result.status,
        "truncated": result.truncated,
        "answer": result.text,
        "model": result.provider.model if result.provider else None,
        "provider": result.provider.name if result.provider else None,
        "engine": stream.engine,
        "usage": {"prompt_tokens": stream.tokens_in, "completion_tokens": stream.tokens_out},
        "latency_ms": result.latency_ms,
        "cost_usd": result.cost,
        "error": str(result.error) if result.error else None,
        "citations": _citations_json(result.citations),
    }


def _citations_json(check: Any) -> dict[str, Any] | None:
    """A grounded answer's citation check: right and wrong ones, against the excerpts sent."""
    if check is None:
        return None
    return {
        "sent": [c.label for c in check.sent],
        "right": [c.label for c in check.right],
        "wrong": [{"citation": c.label, "why": why} for c, why in check.wrong],
        "asked": check.asked,
    }


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# --- tables, Markdown, sessions ---------------------------------------------------------------


def print_markdown(text: str) -> None:
    text = strip_controls(text)
    if stdout_is_terminal():
        from rich.markdown import Markdown

        _console().print(Markdown(text))
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    rows = [["" if cell is None else strip_controls(str(cell)) for cell in row] for row in rows]
    if stdout_is_terminal():
        from rich.table import Table

        table = Table(*headers, box=None, header_style="bold", pad_edge=False)
        for row in rows:
            table.add_row(*(_escape("" if cell is None else str(cell)) for cell in row))
        _console().print(table)
        return
    for row in rows:
        sys.stdout.write("\t".join("" if cell is None else str(cell) for cell in row) + "\n")


def print_sessions(
    items: Sequence[Session],
    *,
    as_json: bool,
    failed: set[str] | frozenset[str] = frozenset(),
    hidden: bool = False,
) -> None:
    """``failed``: ids of sessions never answered; ``hidden``: those were left out of items."""
    if as_json:
        rows_json = [{**session_dict(s), "failed": s.id in failed} for s in items]
        sys.stdout.write(json.dumps(rows_json, indent=2) + "\n")
        return
    left_out = len(failed) if hidden else 0
    if not items and stdout_is_terminal():
        more = f" ({left_out} failed: --all lists them)" if left_out else ""
        sys.stderr.write(f'no sessions yet{more}; start one with: aiw ask "..."\n')
        return
    rows = [
        (
            s.id[:8],
            local_time(s.updated),
            s.message_count,
            s.persona or "",
            s.model or "",
            ("(failed) " if s.id in failed else "") + s.title,
        )
        for s in items
    ]
    print_table(["id", "updated", "msgs", "persona", "model", "title"], rows)
    if left_out and sys.stderr.isatty():
        sys.stderr.write(f"({left_out} failed session(s) never answered: --all lists them)\n")


def print_config(
    rows: Sequence[tuple[str, Any, str]], keys: Sequence[tuple[str, str, bool]], *, as_json: bool
) -> None:
    if as_json:
        payload = {
            "settings": {key: {"value": value, "source": source} for key, value, source in rows},
            "api_keys": {name: {"env": env, "set": is_set} for name, env, is_set in keys},
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    print_table(["key", "value", "source"], [(k, json.dumps(v), s) for k, v, s in rows])
    if keys:
        sys.stdout.write("\n")
        print_table(
            ["provider", "api key from", "status"],
            [(name, env, "set" if is_set else "not set") for name, env, is_set in keys],
        )
