"""Errors users see, each with a distinct exit code (documented in `aiw --help`)."""

from __future__ import annotations

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
EXIT_INTERRUPTED = 130  # Ctrl-C (partial answer kept)

EXIT_CODES_HELP = """\
Exit codes:
  0   success
  1   internal error (a bug: please report it)
  2   bad usage, or a broken config file or value
  3   input refused: missing, binary or oversized file; unknown session, persona or plugin
  4   authentication failed (401/403) or the API key's environment variable is not set
  5   unknown model
  6   rate limited (429) after retries
  7   provider server error (5xx) after retries
  8   timed out
  9   cannot connect to the provider
  10  the answer was cut: the stream stopped or the server interrupted it mid-answer, or
      it reached the token limit (the partial answer is kept)
  11  refused by offline mode
  12  the provider refused the request (400)
  13  the session database is locked, unreadable or from a newer aiw
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
        super().__init__(message)
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


def advice_for(kind: str, provider_label: str, endpoint: str, detail: str = "") -> str:
    """One line: what went wrong with which provider, and what to do."""
    detail = f" ({detail})" if detail else ""
    local_hint = ""
    if "11434" in endpoint:
        local_hint = "; is Ollama running? start it with `ollama serve`"
    elif "1234" in endpoint:
        local_hint = "; is LM Studio's server running? start it in LM Studio's Developer tab"
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
        "or choose another provider with --provider",
        "stream_cut": f"{provider_label}: the answer stream from {endpoint} stopped mid-answer"
        f"{detail}; retry, or continue the session with --session",
        "interrupted": f"{provider_label}: the server at {endpoint} interrupted the answer"
        f"{detail}; a local server that runs one request at a time does this when another "
        "request arrives (set parallel = 1 in the provider's profile); retry",
        "bad_request": f"{provider_label}: the request was refused{detail}; shorten the "
        "context (fewer files, a new session) or check the options",
    }.get(kind, f"{provider_label}: request failed{detail}")
