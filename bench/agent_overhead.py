"""What the agent's hands cost: the sandbox per command, and policy + toolbox per tool call.

1. **Sandbox cost per command**: ``true`` run N times as a plain subprocess (``bash -c true``,
   the way a command runs with no sandbox), then through each working sandbox
   (:class:`ai_workbench.agent.sandbox.Sandbox`); the cost is the difference of the medians.
   Target: bubblewrap ≤ 15 ms over plain.
2. **Policy + toolbox per tool call, outside the command**: :meth:`Policy.check` over compound
   commands; ``AgentToolbox.call`` for ``run_command`` minus the command's own run time (what the
   policy, redaction, cutting, wrapping and the step record add); ``read_file``, ``grep`` and
   ``edit_file`` calls whole, on a small git repository in a temp dir. Target: ≤ 10 ms.

    python bench/agent_overhead.py [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ai_workbench.agent.policy import Policy, rules_of
from ai_workbench.agent.sandbox import Sandbox, detect, plain_env
from ai_workbench.agent.tools import AgentToolbox
from ai_workbench.core.llm.tools import ToolCall
from ai_workbench.core.settings import Settings

COMMANDS = [
    "pytest -x tests/test_app.py",
    "ls -la && git status --short | head -20",
    "find . -name '*.pyc' -print0 | xargs -0 rm -f",
    'bash -c "make lint && make test"',
    "env CI=1 timeout 60 npm test -- --watch=false",
    "git -C ../other log --oneline | grep fix > notes.txt",
]


def _stats(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"median {statistics.median(samples):7.2f} ms   p95 {p95:7.2f} ms"


async def _plain(cwd: Path) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", "true", cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, env=plain_env(), start_new_session=True,
    )  # fmt: skip
    await proc.communicate()
    return (time.perf_counter() - start) * 1000


def _children_cpu() -> float:
    """User + system CPU milliseconds of every child process waited for so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def _repo(base: Path) -> Path:
    root = base / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "app.py").write_text("FLAG = 0\n" + "def total(items):\n    return sum(items)\n" * 20)
    (root / "tests" / "test_app.py").write_text("def test():\n    assert True\n")
    for i in range(50):
        (root / f"mod{i}.py").write_text(f"VALUE_{i} = {i}\n" * 40)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


async def main(runs: int) -> dict[str, object]:
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="aiw-bench-") as tmp:
        root = _repo(Path(tmp))
        print(f"sandbox cost per command ({runs} runs of `true`, interleaved with plain runs):")
        sandboxes = [detect(root, kind) for kind in ("bwrap", "landlock")]
        for kind, sandbox in zip(("bwrap", "landlock"), sandboxes, strict=True):
            if sandbox.kind != kind:
                print(f"  {kind:<22}  not available: {sandbox.reason}")
        working = [sb for kind, sb in zip(("bwrap", "landlock"), sandboxes, strict=True)
                   if sb.kind == kind]  # fmt: skip
        plain: list[float] = []
        times: dict[str, list[float]] = {sb.kind: [] for sb in working}
        cpu: dict[str, float] = {"plain": 0.0, **{sb.kind: 0.0 for sb in working}}
        for _ in range(runs):
            before = _children_cpu()
            plain.append(await _plain(root))
            cpu["plain"] += _children_cpu() - before
            for sb in working:
                before = _children_cpu()
                times[sb.kind].append((await sb.run("true", root, timeout=30)).duration_ms)
                cpu[sb.kind] += _children_cpu() - before
        print(f"  plain subprocess        {_stats(plain)}   min {min(plain):6.2f} ms")
        figures["plain_ms"] = statistics.median(plain)
        for kind, samples in times.items():
            extra = statistics.median(samples) - statistics.median(plain)
            floor = min(samples) - min(plain)
            print(f"  {kind:<22}  {_stats(samples)}   min {min(samples):6.2f} ms")
            print(f"  {'':<22}  +{extra:.2f} ms over plain (median), +{floor:.2f} ms (min)")
            figures[f"{kind}_extra_ms"] = extra
            figures[f"{kind}_extra_min_ms"] = floor
        print("  CPU time of the child processes per command (what load cannot inflate):")
        for kind, total in cpu.items():
            extra_cpu = (total - cpu["plain"]) / runs
            more = f"   +{extra_cpu:.2f} ms over plain" if kind != "plain" else ""
            print(f"    {kind:<20}  {total / runs:6.2f} ms{more}")
            figures[f"{kind}_cpu_ms"] = total / runs

        print("\npolicy + toolbox per tool call (outside the command):")
        policy = Policy(root, mode="ask", allow=rules_of(["Bash(pytest:*)", "Bash(ls:*)"]),
                        deny=rules_of(["Bash(rm:*)", "Bash(git push:*)"]))  # fmt: skip
        checks: list[float] = []
        for _ in range(max(1, runs // len(COMMANDS))):
            for command in COMMANDS:
                start = time.perf_counter()
                policy.check("run_command", {"command": command})
                checks.append((time.perf_counter() - start) * 1000)
        print(f"  Policy.check (compound) {_stats(checks)}")
        figures["policy_check_ms"] = statistics.median(checks)

        settings = Settings(agent={"permissions": {"allow": ["Bash(ls:*)"]}})
        found = detect(root)
        sandbox = _Timed(found.kind, found.reason, found.project_root, found.network)
        box = AgentToolbox(root, settings, mode="auto-edit", approver=None, sandbox=sandbox,
                           trusted=False, persist_rule=lambda rule: None)  # fmt: skip

        def call(name: str, **args: object) -> ToolCall:
            return ToolCall(0, "c", name, json.dumps(args), dict(args))

        outside: list[float] = []
        for _ in range(runs):
            start = time.perf_counter()
            await box.call(call("run_command", command="ls"))
            total = (time.perf_counter() - start) * 1000
            outside.append(total - sandbox.last_ms)
        print(f"  run_command, not the run {_stats(outside)}   (sandbox: {sandbox.kind})")
        figures["run_command_outside_ms"] = statistics.median(outside)
        for label, make in (
            ("read_file", lambda i: call("read_file", path="app.py")),
            ("grep", lambda i: call("grep", pattern="VALUE_4[0-9] =")),
            (
                "edit_file",
                lambda i: call(
                    "edit_file",
                    path="app.py",
                    old_text=f"FLAG = {i % 2}",
                    new_text=f"FLAG = {(i + 1) % 2}",
                ),
            ),
        ):
            times = []
            for i in range(runs):
                start = time.perf_counter()
                await box.call(make(i))
                times.append((time.perf_counter() - start) * 1000)
            print(f"  {label:<24}{_stats(times)}")
            figures[f"{label}_ms"] = statistics.median(times)
    return figures


class _Timed(Sandbox):
    """The same sandbox, remembering how long its last command took by its own clock."""

    last_ms = 0.0

    async def run(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        result = await super().run(*args, **kwargs)
        self.last_ms = result.duration_ms
        return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    options = parser.parse_args()
    result = asyncio.run(main(options.runs))
    bwrap = result.get("bwrap_extra_ms")
    outside = result["run_command_outside_ms"]
    print("\ntargets: sandbox <= 15 ms over plain", end="")
    if isinstance(bwrap, float):
        print(
            f" (bwrap +{bwrap:.2f} ms median, +{result['bwrap_extra_min_ms']:.2f} ms min)", end=""
        )
    print(f"; policy+toolbox <= 10 ms per call (run_command +{outside:.2f} ms)")
