"""Terminal output for the CLI: rendered Markdown on a terminal, plain text in a pipe."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ai_workbench.chat.service import AskResult
    from ai_workbench.core.store import Feedback, Message, Session

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
    """Shows an answer as it streams and prints the end result in the chosen mode."""

    def __init__(self, mode: Literal["stream", "json", "code"] = "stream") -> None:
        self.mode = mode
        self.tty = stdout_is_terminal()
        self.err_tty = sys.stderr.isatty()
        self.text = ""
        self._live: Any = None
        self._last_refresh = 0.0
        self._wrote_plain = False

    # notices (stderr) -----------------------------------------------------------------
    def notice(self, message: str) -> None:
        if self._live is not None:
            self._live.console.print(f"[dim]aiw: {_escape(message)}[/dim]")
            return
        if self.err_tty:
            _console(stderr=True).print(f"[dim]aiw: {_escape(message)}[/dim]")
        else:
            sys.stderr.write(f"aiw: {message}\n")
            sys.stderr.flush()

    # streaming ------------------------------------------------------------------------
    def __enter__(self) -> AnswerPrinter:
        if self.mode == "stream" and self.tty:
            from rich.live import Live
            from rich.markdown import Markdown

            self._markdown = Markdown
            self._live = Live(
                Markdown(""), console=_console(), refresh_per_second=8,
                vertical_overflow="visible", transient=False,
            )  # fmt: skip
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._markdown(self.text), refresh=True)
            self._live.__exit__(exc_type, exc, tb)
            self._live = None
        elif self._wrote_plain and not self.text.endswith("\n"):
            sys.stdout.write("\n")
            sys.stdout.flush()

    def write(self, chunk: str) -> None:
        self.text += chunk
        if self.mode != "stream":
            return
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
        from ai_workbench.core.errors import EXIT_INPUT, EXIT_OK

        short = result.session.id[:8]
        code = EXIT_OK
        if self.mode == "json":
            sys.stdout.write(json.dumps(answer_json(result), indent=2) + "\n")
        elif self.mode == "code" and result.error is None:
            extracted = extract_code(result.text)
            if extracted is None:
                self.notice(f"the answer has no fenced code block; it is saved in session {short}")
                code = EXIT_INPUT
            else:
                sys.stdout.write(extracted)
        if result.error is not None:
            kept = f"; the partial answer is kept in session {short}" if result.text else ""
            sys.stderr.write(f"aiw: error: {result.error}{kept}\n")
            if result.truncated and self.err_tty and self.mode == "stream":
                self.notice(_footer(result))
            return result.error.exit_code
        if self.err_tty and self.mode == "stream":
            self.notice(_footer(result))
        return code


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
    if stdout_is_terminal():
        from rich.markdown import Markdown

        _console().print(Markdown(text))
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if stdout_is_terminal():
        from rich.table import Table

        table = Table(*headers, box=None, header_style="bold", pad_edge=False)
        for row in rows:
            table.add_row(*(_escape("" if cell is None else str(cell)) for cell in row))
        _console().print(table)
        return
    for row in rows:
        sys.stdout.write("\t".join("" if cell is None else str(cell) for cell in row) + "\n")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def print_sessions(items: Sequence[Session], *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps([_session_dict(s) for s in items], indent=2) + "\n")
        return
    if not items and stdout_is_terminal():
        sys.stderr.write('no sessions yet; start one with: aiw ask "..."\n')
        return
    rows = [
        (s.id[:8], _when(s.updated), s.message_count, s.persona or "", s.model or "", s.title)
        for s in items
    ]
    print_table(["id", "updated", "msgs", "persona", "model", "title"], rows)


def _session_dict(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "persona": session.persona,
        "model": session.model,
        "context": session.context,
        "created": session.created,
        "updated": session.updated,
        "message_count": session.message_count,
    }


def _rating_text(feedback: Feedback | None) -> str | None:
    if feedback is None:
        return None
    verdict = "liked" if feedback.rating > 0 else "disliked"
    return f"{verdict}: {feedback.comment}" if feedback.comment else verdict


def session_markdown(
    session: Session,
    messages: Sequence[Message],
    feedback: Mapping[str, Feedback] | None = None,
) -> str:
    lines = [f"# {session.title or 'Untitled'}", ""]
    meta = [f"session `{session.id}`", f"created {_when(session.created)}"]
    if session.persona:
        meta.append(f"persona {session.persona}")
    if session.model:
        meta.append(f"model {session.model}")
    lines += [" · ".join(meta), ""]
    for message in messages:
        if message.role == "system":
            continue
        who = "You" if message.role == "user" else "Assistant"
        tags = [message.model] if message.role == "assistant" and message.model else []
        if message.status != "complete":
            tags.append(f"**{message.status}**")
        heading = f"## {who}" + (f" ({', '.join(tags)})" if tags else "")
        lines += [heading, "", message.content.rstrip() or "_(no text)_", ""]
        if message.error:
            lines += [f"> {message.error}", ""]
        rating = _rating_text((feedback or {}).get(str(message.id)))
        if rating:
            lines += [f"_Feedback: {rating}_", ""]
    return "\n".join(lines)


def session_json(
    session: Session,
    messages: Sequence[Message],
    feedback: Mapping[str, Feedback] | None = None,
) -> str:
    data = _session_dict(session)
    data["messages"] = [
        {
            "id": m.id,
            "role": m.role,
            "content": m.content,
            "status": m.status,
            "model": m.model,
            "provider": m.provider,
            "tokens_in": m.tokens_in,
            "tokens_out": m.tokens_out,
            "latency_ms": m.latency_ms,
            "cost_usd": m.cost,
            "error": m.error,
            "created": m.created,
            "feedback": _feedback_dict((feedback or {}).get(str(m.id))),
            "attachments": [
                {"path": a.path, "sha256": a.sha256, "size": a.size} for a in m.attachments
            ],
        }
        for m in messages
    ]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _feedback_dict(feedback: Feedback | None) -> dict[str, Any] | None:
    if feedback is None:
        return None
    return {"rating": feedback.rating, "comment": feedback.comment, "updated": feedback.updated}


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
