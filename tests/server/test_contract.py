"""The API contract: docs/openapi.yaml is what the app serves, and every path and method in it is
called by a test.

* a contract change shows up in review: the committed document must equal the app's schema
  (regenerate with ``python -m ai_workbench.server.openapi > docs/openapi.yaml``);
* no endpoint without a test: the tests in this directory are scanned for the calls they make
  through an httpx client (``client.get("/v1/...")``, ``client.stream("POST", "/v1/...")``,
  f-string paths included); each path and method of the document must be among them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ai_workbench.server.openapi import REGENERATE, schema, to_yaml
from tests.conftest import REPO_ROOT

COMMITTED = REPO_ROOT / "docs" / "openapi.yaml"
TESTS = Path(__file__).parent
METHODS = ("get", "post", "put", "patch", "delete")
_CALL = re.compile(r"\.(get|post|put|patch|delete)\(\s*f?[\"'](/v1/[^\"'?]*)")
_STREAM = re.compile(
    r"\.stream\(\s*[\"'](GET|POST|PUT|PATCH|DELETE)[\"']\s*,\s*f?[\"'](/v1/[^\"'?]*)"
)


def test_committed_openapi_matches_the_app() -> None:
    assert COMMITTED.exists(), f"docs/openapi.yaml is missing; run: {REGENERATE}"
    current = to_yaml(schema())
    assert COMMITTED.read_text(encoding="utf-8") == current, (
        f"the API changed and docs/openapi.yaml did not: review the change, then run: {REGENERATE}"
    )
    assert yaml.safe_load(current)["openapi"].startswith("3.1")


def called_by_tests() -> set[tuple[str, str]]:
    calls: set[tuple[str, str]] = set()
    for source in TESTS.glob("test_*.py"):
        text = source.read_text(encoding="utf-8")
        calls |= {(m.upper(), p) for m, p in _CALL.findall(text)}
        calls |= {(m.upper(), p) for m, p in _STREAM.findall(text)}
    return calls


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(path)) + "$")


def test_every_path_and_method_has_a_test_that_calls_it() -> None:
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    calls = called_by_tests()
    missing = []
    for path, item in document["paths"].items():
        pattern = _template(path)
        for method in item:
            if method not in METHODS:
                continue
            if not any(m == method.upper() and pattern.match(p) for m, p in calls):
                missing.append(f"{method.upper()} {path}")
    assert not missing, "no test calls: " + ", ".join(missing)


def test_the_scan_sees_f_string_paths() -> None:
    calls = called_by_tests()
    assert ("GET", "/v1/sessions/{mine}/export") in calls
    assert ("POST", "/v1/ask") in calls
    assert _template("/v1/sessions/{session_id}").match("/v1/sessions/{mine}")
    assert not _template("/v1/sessions/{session_id}").match("/v1/sessions/{mine}/export")
