"""The check before "done": the project's tests, run when a run says it is finished.

A model that says "fixed" has not always run the tests, or has misread them. When a run that
changed files (other than documentation) ends, the loop runs the project's test command once
more, through the policy like any command, and a failure goes back to the model with its
output (at most :data:`MAX_CHECKS` times). A run that changed nothing is checked too when its
goal asks to fix failing tests: a model that says "the code is correct" hears that the tests
disagree.

``[agent] check_command`` chooses the command: ``auto`` (found from the project: pytest, npm
test, cargo test, go test), a command of your own, or ``off``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

__all__ = [
    "MAX_CHECKS",
    "check_command",
    "could_not_check",
    "is_prose",
    "keeps_tests",
    "narrowed",
    "same_check",
    "wants_a_fix",
]

#: Failed checks sent back to the model in one run; after that the run ends with them failing.
MAX_CHECKS = 3
# "test", "tests", test_calc.py, calc_test.go, pytest ("latest" and "contest" are not tests)
_ABOUT_TESTS = re.compile(r"(?<![a-z])(?:tests?|pytest|failing|fails?|specs?)(?![a-z])", re.I)
_TO_CHANGE = re.compile(
    r"\b(?:fix|make|repair|implement|add|write|create|change|update|correct|resolve|pass|passes)\b",
    re.I,
)
_QUESTION = re.compile(r"^\s*(?:why|what|how|where|when|which|who|explain|describe|tell)\b", re.I)
_PY_TESTS = ("test_*.py", "*_test.py", "tests/test_*.py", "tests/*_test.py", "conftest.py")
_OFF = ("", "off", "none", "false", "no")
# outputs that mean the command could not test anything (not that the tests failed)
_CANNOT = re.compile(
    r"No module named pytest|command not found|not found: |no tests ran|collected 0 items"
    r"|\bRan 0 tests\b"
    r"|npm ERR! Missing script",
    re.I,
)


_FAIL_OR_PASS = re.compile(r"\b(?:fail|fails|failing|failed|pass|passes|passing|broken)\b", re.I)


def keeps_tests(goal: str) -> bool:
    """Whether the goal asks to make failing tests pass (then the tests are the judge and a
    test file changes only with your approval), not to write tests ("add a case to test_x")."""
    return wants_a_fix(goal) and bool(_FAIL_OR_PASS.search(goal))


def wants_a_fix(goal: str) -> bool:
    """Whether the goal asks to change something about failing tests ("fix calc.py so the test
    passes"): then a run checks the tests before it ends even if it changed nothing."""
    if goal.rstrip().endswith("?") or _QUESTION.match(goal):
        return False  # a question is answered, not checked
    return bool(_ABOUT_TESTS.search(goal)) and bool(_TO_CHANGE.search(goal))


def check_command(root: Path, setting: str = "auto") -> str | None:
    """The command that checks ``root``'s tests, or None (off, or nothing recognisable)."""
    setting = (setting or "").strip()
    if setting.lower() in _OFF:
        return None
    if setting.lower() != "auto":
        return setting
    if _python_tests(root):
        venv = root / ".venv" / "bin" / "python"
        if venv.is_file():
            return ".venv/bin/python -m pytest -q"
        return "python -m pytest -q" if shutil.which("python") else "python3 -m pytest -q"
    script = _npm_test(root / "package.json")
    if script:
        return "npm test --silent"
    if (root / "Cargo.toml").is_file():
        return "cargo test -q"
    if (root / "go.mod").is_file():
        return "go test ./..."
    return None


def could_not_check(exit_code: int | None, output: str) -> bool:
    """The check did not test anything (no runner, no tests): not a failure to send back."""
    return exit_code in (5, 126, 127) or bool(_CANNOT.search(output[-4000:]))


_PROSE = (".md", ".rst", ".txt", ".adoc", ".org")


def is_prose(path: str) -> bool:
    """A documentation file: changing only these does not call for the tests."""
    return path.lower().endswith(_PROSE) or path.startswith("docs/")


def same_check(command: str, check: str) -> bool:
    """Whether ``command`` (one the model ran) is the check itself: ``pytest -q`` is
    ``python -m pytest -q``; ``pytest test_a.py::one`` or ``python -m unittest`` is not."""
    return _normal(command) == _normal(check)


def narrowed(check: str, tests: list[str]) -> str:
    """``check`` run on ``tests`` only (the test files a goal names), when it is pytest: in a
    large project the whole suite can take minutes, and the goal is about these. Any other
    runner, or no Python test files: ``check`` as it is."""
    files = [t for t in tests if t.endswith(".py") and _SAFE_PATH.fullmatch(t)]
    if not files or not _normal(check).startswith("pytest"):
        return check
    return " ".join([check, *files])


_SAFE_PATH = re.compile(r"[\w./-]+")


def _normal(command: str) -> str:
    words = command.split()
    while words and ("/" in words[0] or words[0].startswith("python")) and words[1:2] == ["-m"]:
        words = words[2:]  # .venv/bin/python -m pytest → pytest
    return " ".join(w for w in words if w not in ("-p", "no:cacheprovider"))


def _python_tests(root: Path) -> bool:
    for marker in ("pytest.ini", "conftest.py"):
        if (root / marker).is_file():
            return True
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and "[tool.pytest" in pyproject.read_text(errors="replace"):
            return True
    except OSError:
        return False
    return any(next(root.glob(pattern), None) is not None for pattern in _PY_TESTS)


def _npm_test(package: Path) -> str:
    try:
        scripts = json.loads(package.read_text()).get("scripts") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    test = str(scripts.get("test") or "") if isinstance(scripts, dict) else ""
    return "" if not test or "no test specified" in test else test
