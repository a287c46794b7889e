"""Fake Confluence, GitLab and GitHub servers on 127.0.0.1 answering with the real APIs' shapes
(pagination, ETags, 401, 429 + Retry-After), for the sources tests and bench/sources.py.

One threaded HTTP server serves all three under their own path prefixes:

- Confluence: ``/wiki/rest/api/content?spaceKey=…&expand=body.storage,version&start=&limit=``
  with ``_links.base/context/next``; ``Authorization: Bearer TOKEN`` (Data Center) or basic
  auth with ``me@example.com`` and the token (Cloud).
- GitLab: ``/api/v4/projects/<id>/issues`` (``X-Next-Page``), ``/merge_requests`` (``Link``),
  ``/wikis?with_content=1``; ``PRIVATE-TOKEN``.
- GitHub: ``/repos/o/r/issues?state=all`` with ``Link: rel="next"``, ``ETag`` and 304 on
  ``If-None-Match``; ``Authorization: Bearer TOKEN``.

The data are plain dicts a test changes between syncs; ``throttle`` makes the next N requests
answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

TOKEN = "test-token-123"


class FakeApis:
    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.pages: dict[str, dict[str, Any]] = {}  # confluence id -> {title, body, version}
        self.issues: list[dict[str, Any]] = []  # gitlab
        self.mrs: list[dict[str, Any]] = []
        self.wikis: list[dict[str, Any]] = []
        self.gh_issues: list[dict[str, Any]] = []
        self.throttle = 0
        self.retry_after = "1"
        self.requests: list[tuple[str, dict[str, str], int]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = fake.answer(self.path, dict(self.headers))
                with fake.lock:
                    fake.requests.append((self.path, dict(self.headers), status))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeApis:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- data helpers ---

    def add_page(self, page_id: str, title: str, html: str, version: int = 1) -> None:
        self.pages[page_id] = {"title": title, "body": html, "version": version}

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]

    # --- dispatch ---

    def answer(self, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            if self.throttle > 0:
                self.throttle -= 1
                return 429, {"Retry-After": self.retry_after}, {"message": "slow down"}
        parts = urlsplit(raw)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path.startswith("/wiki/"):
            basic = "Basic " + base64.b64encode(f"me@example.com:{TOKEN}".encode()).decode()
            if headers.get("Authorization") not in (f"Bearer {TOKEN}", basic):
                return 401, {}, {"message": "Unauthorized"}
            return self.confluence(path, query)
        if path.startswith("/api/v4/"):
            if headers.get("PRIVATE-TOKEN") != TOKEN:
                return 401, {}, {"message": "401 Unauthorized"}
            return self.gitlab(path, query)
        if path.startswith("/repos/"):
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, {"message": "Bad credentials"}
            return self.github(raw, path, query, headers)
        return 404, {}, {"message": "not found"}

    def confluence(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if path != "/wiki/rest/api/content" or query.get("spaceKey") != "ENG":
            return 404, {}, {"message": "No space with key"}
        start = int(query.get("start", 0))
        limit = min(int(query.get("limit", 25)), self.page_size)
        ids = sorted(self.pages, key=lambda x: int(x) if x.isdigit() else x)
        results = []
        for page_id in ids[start : start + limit]:
            page = self.pages[page_id]
            results.append(
                {
                    "id": page_id,
                    "type": "page",
                    "status": "current",
                    "title": page["title"],
                    "version": {"number": page["version"]},
                    "body": {"storage": {"value": page["body"], "representation": "storage"}},
                    "_links": {"webui": f"/spaces/ENG/pages/{page_id}", "self": "x"},
                }
            )
        links: dict[str, Any] = {"base": f"{self.url}/wiki", "context": "/wiki"}
        if start + limit < len(ids):
            links["next"] = (
                "/rest/api/content?spaceKey=ENG&type=page&expand=body.storage,version"
                f"&limit={limit}&start={start + limit}"
            )
        body = {"results": results, "start": start, "limit": limit, "size": len(results),
                "_links": links}  # fmt: skip
        return 200, {}, body

    def gitlab(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        prefix = "/api/v4/projects/" + quote("team/app", safe="")
        if not path.startswith(prefix + "/"):
            return 404, {}, {"message": "404 Project Not Found"}
        what = path[len(prefix) + 1 :]
        if what == "wikis":
            return 200, {}, self.wikis
        data = {"issues": self.issues, "merge_requests": self.mrs}.get(what)
        if data is None:
            return 404, {}, {"message": "404 Not Found"}
        page = int(query.get("page", 1))
        per = min(int(query.get("per_page", 20)), self.page_size)
        chunk = data[(page - 1) * per : page * per]
        headers: dict[str, str] = {}
        more = page * per < len(data)
        if what == "issues":  # offset pagination headers
            headers["X-Next-Page"] = str(page + 1) if more else ""
            headers["X-Page"] = str(page)
        elif more:  # the Link header
            nxt = f"{self.url}{path}?state=all&per_page={per}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return 200, headers, chunk

    def github(
        self, raw: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        if path != "/repos/o/r/issues":
            return 404, {}, {"message": "Not Found"}
        page = int(query.get("page", 1))
        per = min(int(query.get("per_page", 30)), self.page_size)
        chunk = self.gh_issues[(page - 1) * per : page * per]
        etag = '"' + hashlib.sha1(json.dumps(chunk).encode()).hexdigest() + '"'
        out: dict[str, str] = {"ETag": etag}
        if page * per < len(self.gh_issues):
            nxt = f"{self.url}/repos/o/r/issues?state=all&per_page={per}&page={page + 1}"
            out["Link"] = f'<{nxt}>; rel="next", <{self.url}/x?page=9>; rel="last"'
        if headers.get("If-None-Match") == etag:
            return 304, out, None
        return 200, out, chunk


def gitlab_issue(iid: int, title: str, text: str, updated: str, base: str) -> dict[str, Any]:
    return {
        "iid": iid,
        "title": title,
        "description": text,
        "state": "opened",
        "labels": ["bug"],
        "updated_at": updated,
        "web_url": f"{base}/team/app/-/issues/{iid}",
    }


def github_issue(number: int, title: str, text: str, updated: str, pr: bool = False) -> dict:
    entry: dict[str, Any] = {
        "number": number,
        "title": title,
        "body": text,
        "state": "open",
        "labels": [{"name": "bug"}],
        "updated_at": updated,
        "html_url": f"https://github.example/o/r/{'pull' if pr else 'issues'}/{number}",
    }
    if pr:
        entry["pull_request"] = {"url": "x"}
    return entry
