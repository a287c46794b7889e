"""A small real toolbox for the agent loop's tests (the policy helper's AgentToolbox is separate).

It works on a real project directory: ``read_file``, ``write_file`` (with a unified diff),
``run_command`` (a real ``bash -c`` in the project, which tests keep to harmless commands) and
records a step per call like ``agent.tools.AgentToolbox`` does. Commands listed in ``refuse`` get
the decision ``refused``; commands in ``ask`` go to the approver (``once``/``run``/``always`` →
``user-approved``, ``deny`` → ``user-denied``; no approver → ``refused``).
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_workbench.core.llm.tools import ToolCall, ToolOutcome


@dataclass
class Record:
    tool: str
    args_redacted: dict[str, Any]
    decision: str
    exit_code: int | None
    duration_ms: float
    output_digest: str
    diff: str | None = None
    changed_files: list[str] = field(default_factory=list)


@dataclass
class Request:
    tool: str
    args: dict[str, Any]
    summary: str
    detail: str
    reason: str
    rule: str


def _spec(name: str, description: str, **props: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": v} for k, v in props.items()},
                "required": list(props),
            },
        },
    }


SPECS = [
    _spec("read_file", "Read a file of the project.", path="string"),
    _spec("write_file", "Write a whole file.", path="string", content="string"),
    _spec("run_command", "Run a shell command in the project.", command="string"),
]


class ProjectTools:
    def __init__(
        self,
        root: Path,
        *,
        refuse: Iterable[str] = (),
        ask: Iterable[str] = (),
        approver: Callable[[Any], Awaitable[str]] | None = None,
    ) -> None:
        self.root = root
        self.refuse = set(refuse)
        self.ask = set(ask)
        self.approver = approver
        self.steps: list[Record] = []
        self.ran: list[str] = []

    def specs(self) -> list[dict[str, Any]]:
        return list(SPECS)

    async def call(self, call: ToolCall) -> ToolOutcome:
        args = call.arguments or {}
        started = time.perf_counter()
        diff = None
        changed: list[str] = []
        exit_code = None
        decision = "auto"
        if call.name == "read_file":
            path = self.root / str(args.get("path", ""))
            try:
                text = path.read_text()
            except OSError as exc:
                text, decision = f"error: {exc.strerror}", "auto"
        elif call.name == "write_file":
            rel = str(args.get("path", ""))
            path = self.root / rel
            old = path.read_text() if path.exists() else ""
            new = str(args.get("content", ""))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new)
            diff = "".join(
                difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True), f"a/{rel}", f"b/{rel}"
                )
            )
            changed = [rel]
            text = f"wrote {rel}"
        elif call.name == "run_command":
            command = str(args.get("command", ""))
            if command in self.refuse:
                decision = "refused"
            elif command in self.ask:
                answer = await self.approver(
                    Request("run_command", args, command, command, "asks", f"Bash({command})")
                ) if self.approver else "deny"  # fmt: skip
                decision = "user-denied" if answer == "deny" else "user-approved"
                if self.approver is None:
                    decision = "refused"
            if decision in ("refused", "user-denied"):
                text = f"error: not allowed ({decision}): {command}"
            else:
                proc = await asyncio.create_subprocess_exec(
                    "bash", "-c", command, cwd=self.root,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                )  # fmt: skip
                out, _ = await proc.communicate()
                exit_code = proc.returncode
                self.ran.append(command)
                text = f"exit {exit_code}\n{out.decode(errors='replace')}"
        else:
            text = f"error: no tool {call.name}"
        self.steps.append(
            Record(
                call.name,
                json.loads(json.dumps(args)),
                decision,
                exit_code,
                (time.perf_counter() - started) * 1000,
                hashlib.sha256(text.encode()).hexdigest()[:16],
                diff,
                changed,
            )
        )
        is_error = text.startswith("error") or decision in ("refused", "user-denied")
        return ToolOutcome(text, is_error=is_error, summary=text.splitlines()[0][:80])


def factory(**options: Any) -> Callable[..., ProjectTools]:
    """A toolbox factory for AgentService (``toolbox_factory=``)."""

    def make(root: Path, settings: Any, *, mode: str, approver: Any, search: Any) -> ProjectTools:
        return ProjectTools(root, approver=approver, **options)

    return make
