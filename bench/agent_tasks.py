"""Small coding tasks for `aiw agent`, side by side with aider on the same model.

Each task is a tiny project (a module with a bug or a missing function, and a failing test) and a
one-line goal. Solved means: the task's tests pass afterwards and the test files are untouched
(byte for byte). Both tools get the same model, endpoint and goal:

* aiw:   ``python -m ai_workbench agent --mode full-auto --json --model openai/M --api-base URL``
  (in the task's directory, with its own throwaway HOME/XDG dirs, so nothing of the user's is
  touched and the run is logged in a bench database);
* aider: ``aider --model openai/M --openai-api-base URL --yes-always --no-git --message GOAL
  SOURCE --read TEST`` (aider 0.86 in its own venv, default /tmp/aider-venv).

The local model serves one client at a time: every task run holds ``/tmp/local-model.lock``
(``flock``) while it talks to the model, so other users of the model interleave between tasks
(``--no-lock`` when the caller holds the lock for the whole bench).

Usage::

    python bench/agent_tasks.py                      # both tools, every task
    python bench/agent_tasks.py --tools aiw --tasks calc_sign,is_even
    python bench/agent_tasks.py --list

Prints one line per task and tool (solved, seconds, tokens) and the totals; ``--json FILE``
also writes the rows.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LOCK = "/tmp/local-model.lock"
DEFAULT_API = "http://127.0.0.1:8765/v1"
DEFAULT_AIDER = "/tmp/aider-venv/bin/aider"


@dataclass(frozen=True)
class Task:
    name: str
    goal: str
    source: dict[str, str]  # files the fix goes in
    tests: dict[str, str]  # files that must stay untouched


def _test(module: str, body: str) -> str:
    """A test file importing from ``module`` the function the body calls first."""
    name = re.search(r"assert (?:not )?(\w+)\(", body)
    assert name is not None
    return f"from {module} import {name.group(1)}\n\n\n{body.strip()}\n"


TASKS: list[Task] = [
    Task(
        "calc_sign",
        "The test in test_calc.py fails: fix calc.py so that it passes.",
        {"calc.py": "def add(a, b):\n    return a - b\n"},
        {"test_calc.py": _test("calc", "def test_add():\n    assert add(2, 3) == 5")},
    ),
    Task(
        "last_item",
        "test_items.py fails with an IndexError: fix last() in items.py.",
        {"items.py": "def last(items):\n    return items[len(items)]\n"},
        {"test_items.py": _test("items", "def test_last():\n    assert last([1, 2, 3]) == 3")},
    ),
    Task(
        "is_even",
        "Fix is_even in parity.py so that the tests in test_parity.py pass.",
        {"parity.py": "def is_even(n):\n    return n % 2 == 1\n"},
        {
            "test_parity.py": _test(
                "parity",
                "def test_even():\n    assert is_even(4)\n    assert not is_even(7)",
            )
        },
    ),
    Task(
        "celsius",
        "f_to_c in temperature.py gives wrong results; make test_temperature.py pass.",
        {"temperature.py": "def f_to_c(f):\n    return (f - 32) * 9 / 5\n"},
        {
            "test_temperature.py": _test(
                "temperature",
                "def test_boiling():\n    assert f_to_c(212) == 100\n\n\n"
                "def test_freezing():\n    assert f_to_c(32) == 0",
            )
        },
    ),
    Task(
        "vowels",
        "count_vowels in text.py misses some vowels; fix it so test_text.py passes.",
        {"text.py": "def count_vowels(s):\n    return sum(1 for ch in s if ch in 'aeiou')\n"},
        {
            "test_text.py": _test(
                "text", "def test_count():\n    assert count_vowels('Apple PIE') == 4"
            )
        },
    ),
    Task(
        "maximum",
        "largest() in stats.py returns the wrong value; fix it so test_stats.py passes.",
        {
            "stats.py": "def largest(values):\n"
            "    best = values[0]\n"
            "    for v in values:\n"
            "        if v < best:\n"
            "            best = v\n"
            "    return best\n"
        },
        {
            "test_stats.py": _test(
                "stats", "def test_largest():\n    assert largest([3, 9, 2]) == 9"
            )
        },
    ),
    Task(
        "slugify",
        "test_slug.py imports slugify from slug.py, which does not have it yet: add it.",
        {"slug.py": '"""Helpers for URLs."""\n'},
        {
            "test_slug.py": _test(
                "slug",
                "def test_slugify():\n"
                "    assert slugify('Hello World') == 'hello-world'\n"
                "    assert slugify('  Agent Mode ') == 'agent-mode'",
            )
        },
    ),
    Task(
        "fizzbuzz",
        "fizzbuzz(15) in game.py returns the wrong word; fix it so test_game.py passes.",
        {
            "game.py": "def fizzbuzz(n):\n"
            "    if n % 3 == 0:\n"
            "        return 'Fizz'\n"
            "    if n % 5 == 0:\n"
            "        return 'Buzz'\n"
            "    if n % 15 == 0:\n"
            "        return 'FizzBuzz'\n"
            "    return str(n)\n"
        },
        {
            "test_game.py": _test(
                "game",
                "def test_words():\n"
                "    assert fizzbuzz(3) == 'Fizz'\n"
                "    assert fizzbuzz(10) == 'Buzz'\n"
                "    assert fizzbuzz(15) == 'FizzBuzz'\n"
                "    assert fizzbuzz(7) == '7'",
            )
        },
    ),
    Task(
        "mutable_default",
        "add_tag in tags.py leaks tags between calls; fix it so test_tags.py passes.",
        {"tags.py": "def add_tag(tag, tags=[]):\n    tags.append(tag)\n    return tags\n"},
        {
            "test_tags.py": _test(
                "tags",
                "def test_fresh_list():\n"
                "    assert add_tag('a') == ['a']\n"
                "    assert add_tag('b') == ['b']",
            )
        },
    ),
    Task(
        "merge_prefers_new",
        "merge(a, b) in config.py must let b's values win; fix it so test_config.py passes.",
        {
            "config.py": (
                "def merge(a, b):\n    result = dict(b)\n    result.update(a)\n    return result\n"
            )
        },
        {
            "test_config.py": _test(
                "config",
                "def test_b_wins():\n"
                "    assert merge({'x': 1, 'y': 2}, {'y': 3}) == {'x': 1, 'y': 3}",
            )
        },
    ),
    Task(
        "to_int_default",
        "to_int in parse.py must return the default for text that is not a number; "
        "make test_parse.py pass.",
        {"parse.py": "def to_int(text, default=0):\n    return int(text)\n"},
        {
            "test_parse.py": _test(
                "parse",
                "def test_number():\n    assert to_int('42') == 42\n\n\n"
                "def test_default():\n    assert to_int('forty', default=-1) == -1",
            )
        },
    ),
    Task(
        "stack_pop",
        "Stack.pop in stack.py returns the wrong item; fix it so test_stack.py passes.",
        {
            "stack.py": "class Stack:\n"
            "    def __init__(self):\n        self.items = []\n\n"
            "    def push(self, item):\n        self.items.append(item)\n\n"
            "    def pop(self):\n        return self.items[0]\n"
        },
        {
            "test_stack.py": "from stack import Stack\n\n\ndef test_last_in_first_out():\n"
            "    s = Stack()\n    s.push(1)\n    s.push(2)\n"
            "    assert s.pop() == 2\n    assert s.pop() == 1\n"
        },
    ),
    Task(
        "money_format",
        "Make test_money.py pass.",  # names only the test: the code is what it imports
        {"money.py": 'def to_dollars(cents):\n    return f"${cents / 100}"\n'},
        {
            "test_money.py": _test(
                "money",
                "def test_two_decimals():\n"
                "    assert to_dollars(150) == '$1.50'\n"
                "    assert to_dollars(5) == '$0.05'",
            )
        },
    ),
    Task(
        "rect_two_bugs",
        "test_rect.py fails: fix area and perimeter in rect.py.",
        {
            "rect.py": "def area(w, h):\n    return w + h\n\n\n"
            "def perimeter(w, h):\n    return w * h\n"
        },
        {
            "test_rect.py": "from rect import area, perimeter\n\n\ndef test_rect():\n"
            "    assert area(2, 3) == 6\n    assert perimeter(2, 3) == 10\n"
        },
    ),
    Task(
        "word_count",
        "Add word_count(text) to words.py (the number of words) so test_words.py passes.",
        {"words.py": "def first_word(text):\n    return text.split()[0]\n"},
        {
            "test_words.py": _test(
                "words",
                "def test_count():\n"
                "    assert word_count('one two  three') == 3\n"
                "    assert word_count('') == 0",
            )
        },
    ),
]


@dataclass
class Row:
    task: str
    tool: str
    solved: bool
    seconds: float
    tokens_in: int | None
    tokens_out: int | None
    exit_code: int
    note: str = ""


def _digest(root: Path, names: list[str]) -> str:
    h = hashlib.sha256()
    for name in sorted(names):
        path = root / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"<missing>"))
    return h.hexdigest()


def _make(task: Task, base: Path) -> Path:
    root = base / task.name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for name, text in {**task.source, **task.tests}.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _tests_pass(root: Path, task: Task) -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *task.tests],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode == 0


@contextlib.contextmanager
def model_lock() -> Any:
    with open(LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _env(home: Path, *, aiw: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env.pop(key, None)
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_DATA_HOME"] = str(home / ".local/share")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["XDG_STATE_HOME"] = str(home / ".local/state")
    if aiw:  # this checkout's aiw; aider runs from its own venv with nothing of ours
        env["PYTHONPATH"] = str(REPO)
    # both tools see a Python with pytest first on PATH (a user's activated venv)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["OPENAI_API_KEY"] = "sk-local-bench"
    return env


def run_aiw(task: Task, root: Path, home: Path, args: argparse.Namespace) -> Row:
    command = [
        sys.executable, "-m", "ai_workbench", "agent", task.goal,
        "--mode", "full-auto", "--json",
        "--model", f"openai/{args.model}", "--api-base", args.api_base,
        "--max-steps", str(args.max_steps), "--max-seconds", str(args.timeout),
    ]  # fmt: skip
    env = _env(home, aiw=True)
    env["AIW_AGENT_TRACE"] = str(home / f"{task.name}.trace.jsonl")  # what the model saw
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True,
            timeout=args.timeout + 60, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        out, code = proc.stdout, proc.returncode
        err = proc.stderr
    except subprocess.TimeoutExpired as exc:
        out, code, err = (exc.stdout or b"").decode() if exc.stdout else "", -9, "timeout"
    seconds = time.perf_counter() - started
    done: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if event.get("event") == "done":
                    done = event
    note = done.get("status", "") or (err.strip().splitlines() or [""])[-1][:120]
    if done:
        note += f" · {done.get('steps', 0)} steps · {done.get('protocol', '')}"
    return Row(
        task.name, "aiw", False, seconds, done.get("tokens_in"), done.get("tokens_out"), code, note
    )


_AIDER_TOKENS = re.compile(r"Tokens: ([\d.]+)(k?) sent, ([\d.]+)(k?) received")


def _count(number: str, k: str) -> int:
    return int(float(number) * (1000 if k else 1))


def run_aider(task: Task, root: Path, home: Path, args: argparse.Namespace) -> Row:
    command = [
        args.aider, "--model", f"openai/{args.model}", "--openai-api-base", args.api_base,
        "--openai-api-key", "sk-local-bench", "--yes-always", "--no-git", "--no-auto-commits",
        "--no-check-update", "--no-analytics", "--no-show-model-warnings", "--no-pretty",
        "--no-stream", "--message", task.goal, *task.source,
    ]  # fmt: skip
    for name in task.tests:
        command += ["--read", name]
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command, cwd=root, env=_env(home, aiw=False), capture_output=True, text=True,
            timeout=args.timeout, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else ""
        code = -9
    seconds = time.perf_counter() - started
    sent = received = 0
    for m in _AIDER_TOKENS.finditer(out):
        sent += _count(m.group(1), m.group(2))
        received += _count(m.group(3), m.group(4))
    note = "timeout" if code == -9 else ""
    return Row(task.name, "aider", False, seconds, sent or None, received or None, code, note)


RUNNERS = {"aiw": run_aiw, "aider": run_aider}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="local-qwen", help="model name on the server")
    parser.add_argument("--api-base", default=DEFAULT_API)
    parser.add_argument("--tools", default="aiw,aider", help="aiw, aider or both")
    parser.add_argument("--tasks", default="", help="comma-separated task names (default all)")
    parser.add_argument("--max-steps", type=int, default=10, help="aiw's --max-steps")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per task and tool")
    parser.add_argument("--aider", default=DEFAULT_AIDER, help="the aider executable")
    parser.add_argument("--keep", type=Path, help="keep the task dirs here")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--list", action="store_true", help="list the tasks and exit")
    parser.add_argument(
        "--no-lock",
        action="store_true",
        help="do not take the model lock per run (the caller holds it: flock LOCK python ...)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for task in TASKS:
            print(f"{task.name:<18} {task.goal}")
        return 0
    chosen = [t for t in TASKS if not args.tasks or t.name in args.tasks.split(",")]
    tools = [t for t in args.tools.split(",") if t]
    base = args.keep or Path(tempfile.mkdtemp(prefix="aiw-agent-bench-"))
    rows: list[Row] = []
    for task in chosen:
        for tool in tools:
            root = _make(task, base / tool)
            if _tests_pass(root, task):
                raise SystemExit(f"{task.name}: the tests pass before the run; fix the task")
            before = _digest(root, list(task.tests))
            home = base / "home" / tool
            home.mkdir(parents=True, exist_ok=True)
            with contextlib.nullcontext() if args.no_lock else model_lock():
                row = RUNNERS[tool](task, root, home, args)
            untouched = _digest(root, list(task.tests)) == before
            row.solved = untouched and _tests_pass(root, task)
            if not untouched:
                row.note = (row.note + " · test file changed").strip(" ·")
            rows.append(row)
            if args.json:  # after every row: a run stopped halfway keeps its figures
                args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
            tokens = (row.tokens_in or 0) + (row.tokens_out or 0)
            print(
                f"{task.name:<18} {tool:<6} {'SOLVED' if row.solved else 'failed':<7}"
                f" {row.seconds:6.1f}s {tokens:>7} tok  exit {row.exit_code:<4} {row.note}",
                flush=True,
            )
    print()
    for tool in tools:
        mine = [r for r in rows if r.tool == tool]
        if not mine:
            continue
        solved = sum(r.solved for r in mine)
        seconds = sum(r.seconds for r in mine)
        tin = sum(r.tokens_in or 0 for r in mine)
        tout = sum(r.tokens_out or 0 for r in mine)
        print(
            f"{tool:<6} solved {solved}/{len(mine)}  time {seconds:.0f}s "
            f"(median {sorted(r.seconds for r in mine)[len(mine) // 2]:.0f}s)  "
            f"tokens {tin} in + {tout} out"
        )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
