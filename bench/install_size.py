"""What the install weighs, per direct dependency of aiw (docs/install.md).

Run with the venv's Python: ``python bench/install_size.py``. Sizes are the bytes of every file
each installed distribution lists (importlib.metadata), grouped by the direct dependencies of
``ai-workbench`` (runtime and the ``test`` extra) that pull them in: "exclusive" counts only
what no other direct dependency also needs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import os
import re

MB = 1e6


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requires: list[str] | None, extras: set[str]) -> list[str]:
    names = []
    for req in requires or []:
        marker = req.split(";", 1)[1] if ";" in req else ""
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)", marker)
        if extra and extra.group(1) not in extras:
            continue
        names.append(_norm(re.match(r"[A-Za-z0-9_.\-]+", req).group(0)))  # type: ignore[union-attr]
    return names


def main() -> None:
    sizes: dict[str, int] = {}
    requires: dict[str, list[str]] = {}
    for dist in md.distributions():
        name = _norm(dist.metadata["Name"])
        total = 0
        for file in dist.files or []:
            with contextlib.suppress(OSError):
                total += os.path.getsize(dist.locate_file(file))
        sizes[name] = total
        # uvicorn[standard] (chromadb) and httpx[http2]-style extras count as pulled in.
        requires[name] = _requirement_names(dist.requires, {"standard", "http2", "linkify"})
    ours = md.distribution("ai-workbench")
    direct = _requirement_names(ours.requires, set())
    test = [n for n in _requirement_names(ours.requires, {"test"}) if n not in direct]

    def closure(root: str) -> set[str]:
        seen: set[str] = set()
        stack = [root]
        while stack:
            name = stack.pop()
            if name in seen or name not in sizes:
                continue
            seen.add(name)
            stack.extend(requires[name])
        return seen

    roots = direct + test
    closures = {root: closure(root) for root in roots}
    owners = {n: [r for r in roots if n in closures[r]] for n in sizes}
    print(f"{'direct dependency':<26} {'exclusive MB':>12} {'dists':>6} {'closure MB':>11}")
    rows = []
    for root in roots:
        exclusive = [n for n in closures[root] if owners[n] == [root]]
        rows.append(
            (root + (" (test)" if root in test else ""), sum(sizes[n] for n in exclusive) / MB,
             len(exclusive), sum(sizes[n] for n in closures[root]) / MB)
        )  # fmt: skip
    for row in sorted(rows, key=lambda r: -r[1]):
        print(f"{row[0]:<26} {row[1]:>12.1f} {row[2]:>6} {row[3]:>11.1f}")
    runtime = set().union(*(closures[r] for r in direct))
    everything = set().union(*closures.values())
    print(
        f"\nruntime: {len(runtime)} distributions, {sum(sizes[n] for n in runtime) / MB:.0f} MB; "
        f"with the test extra: {len(everything)}, {sum(sizes[n] for n in everything) / MB:.0f} MB; "
        f"whole environment: {len(sizes)}, {sum(sizes.values()) / MB:.0f} MB"
    )
    print("\nlargest distributions:")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {name:<28} {size / MB:7.1f} MB  pulled by {', '.join(owners[name]) or '-'}")


if __name__ == "__main__":
    main()
