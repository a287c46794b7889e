"""Errors users see, each with a distinct exit code (documented in `aiw --help`)."""

from __future__ import annotations

from ai_workbench.core.sanitize import strip_controls

# Exit codes of the headless CLI.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2  # bad flags, broken config file or value
EXIT_INPUT = 3  # missing/binary/oversized file, unknown session, persona or plugin
EXIT_AUTH = 4  # 401/403, or the API key's environment variable is not set
EXIT_MODEL = 5  # unknown model
EXIT_RATE_LIMIT = 6  # 429 after bounded retries
EXIT_SERVER = 7  # 5xx after bounded retries
EXIT_TIMEOUT = 8  # no answer within request_timeout
EXIT_CONNECTION = 9  # connection refused / host unreachable
EXIT_STREAM_CUT = 10  # the stream stopped mid-answer, or at the token limit (partial kept)
EXIT_OFFLINE = 11  # refused by offline mode
EXIT_BAD_REQUEST = 12  # the provider refused the request (400: context too long, bad params)
EXIT_STORAGE = 13  # the session database is locked, corrupt or from a newer aiw
EXIT_NO_CODE = 14  # `aiw ask --code`: the answer has no fenced code block (the answer is saved)
EXIT_NO_DOCUMENT = 15  # `aiw doc new`: the model returned no usable document (nothing saved)
EXIT_INTERRUPTED = 130  # Ctrl-C (partial answer kept)

EXIT_CODES_HELP = """\
Exit codes:
  0   success
  1   internal error (a bug: please report it)
  2   bad usage, or a broken config file or value
  3   input refused: missing, binary or oversized file; unknown session, persona or plugin;
      nothing recorded yet (`aiw explain` before any failed command)
  4   authentication failed (401/403) or the API key's environment variable is not set
  5   unknown model
  6   rate limited (429) after retries
  7   provider server error (5xx) after retries
  8   timed out
  9   cannot connect to the provider
  10  the answer was cut: the stream stopped or the server interrupted it mid-answer, it
      reached the token limit, or aiw stopped it at a chat.max_answer_* cap (the partial
      answer is kept)
  11  refused by offline mode
  12  the provider refused the request (400)
  13  the session database is locked, unreadable or from a newer aiw
  14  --code: the answer has no fenced code block (the answer is saved in its session)
  15  aiw doc: the model returned no usable document, even after a retry (nothing saved)
  130 interrupted (the partial answer is kept)"""

PROVIDER_EXIT_CODES = {
    "config": EXIT_USAGE,
    "auth": EXIT_AUTH,
    "model": EXIT_MODEL,
    "rate_limit": EXIT_RATE_LIMIT,
    "server": EXIT_SERVER,
    "timeout": EXIT_TIMEOUT,
    "connection": EXIT_CONNECTION,
    "stream_cut": EXIT_STREAM_CUT,
    "capped": EXIT_STREAM_CUT,  # aiw stopped an answer at chat.max_answer_* (partial kept)
    "interrupted": EXIT_STREAM_CUT,
    "truncated": EXIT_STREAM_CUT,
    "offline": EXIT_OFFLINE,
    "bad_request": EXIT_BAD_REQUEST,
    "unknown": EXIT_INTERNAL,
}

# Retried with backoff, but only while nothing has been streamed (a partial answer is kept).
RETRYABLE = {"rate_limit", "server", "interrupted"}
# Worth trying the next provider in the fallback chain.
FALL_THROUGH = {"connection", "timeout", "server", "rate_limit", "model", "auth", "offline"}


class AiwError(Exception):
    """An error with a one-line message for the user and an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        # Messages quote provider error bodies, file names and model text: never let them
        # carry terminal control sequences to the user's terminal.
        super().__init__(strip_controls(message))
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(AiwError):
    exit_code = EXIT_INPUT


class ProviderError(AiwError):
    """A provider failed. ``kind`` is one of PROVIDER_EXIT_CODES (``truncated``: the answer
    arrived but stopped at the token limit, so it is reported like a cut one)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        retry_after: float | None = None,
        partial: bool = False,
    ) -> None:
        super().__init__(message, PROVIDER_EXIT_CODES.get(kind, EXIT_INTERNAL))
        self.kind = kind
        self.provider = provider
        self.model = model
        self.retry_after = retry_after
        self.partial = partial
        self.causes: list[ProviderError] = []  # set by chain_failed: one per provider tried


def chain_failed(errors: list[ProviderError]) -> ProviderError:
    """One error for a fallback chain in which every provider failed.

    Every provider is named with its own reason, in the order tried, and the exit code is the
    first provider's (the one the user chose or configured as default): a missing key on the
    default is 4 even when the local fallback after it was merely not running (9).
    """
    if len(errors) == 1:
        return errors[0]
    first = errors[0]
    reasons = "; ".join(f"({n}) {e}" for n, e in enumerate(errors, 1))
    combined = ProviderError(
        first.kind,
        f"every provider failed: {reasons}",
        provider=first.provider,
        model=first.model,
        retry_after=first.retry_after,
        partial=any(e.partial for e in errors),
    )
    combined.causes = list(errors)
    return combined


def advice_for(kind: str, provider_label: str, endpoint: str, detail: str = "") -> str:
    """One line: what went wrong with which provider, and what to do."""
    detail = f" ({detail})" if detail else ""
    local_hint = ""
    if "11434" in endpoint:
        local_hint = "; is Ollama running? start it with `ollama serve`"
    elif ":1234" in endpoint:
        local_hint = (
            "; is LM Studio's server running? start it with `lms server start` or in LM "
            "Studio's Developer tab"
        )
    return {
        "auth": f"{provider_label}: authentication failed{detail}; check the API key in the "
        "environment variable its profile names (api_key_env)",
        "model": f"{provider_label}: the model is unknown to {endpoint}{detail}; check the "
        "model name (aiw config show) or pull it on the server",
        "rate_limit": f"{provider_label}: rate limited by {endpoint}{detail}; wait and retry, "
        "or choose another provider with --provider",
        "server": f"{provider_label}: the server at {endpoint} failed{detail}; retry later or "
        "choose another provider with --provider",
        "timeout": f"{provider_label}: no answer from {endpoint} in time{detail}; raise "
        "request_timeout or check the server",
        "connection": f"{provider_label}: cannot connect to {endpoint}{detail}{local_hint}; "
        "`aiw models` shows what answers and `aiw doctor` what to fix",
        "stream_cut": f"{provider_label}: the answer stream from {endpoint} stopped mid-answer"
        f"{detail}; retry, or continue the session with --session",
        "interrupted": f"{provider_label}: the server at {endpoint} interrupted the answer"
        f"{detail}; a local server that runs one request at a time does this when another "
        "request arrives (set parallel = 1 in the provider's profile); retry",
        "bad_request": f"{provider_label}: the request was refused{detail}; shorten the "
        "context (fewer files, a new session) or check the options",
    }.get(kind, f"{provider_label}: request failed{detail}")
