"""How fast is secret redaction?  Prints MB/s over a few MB of ordinary source code.

The corpus is the standard library's own ``.py`` files (sorted, so every run on the same
Python sees the same text), concatenated up to ``--size`` MB, with a few fake secrets of
different kinds planted between files.  Run from the repository root::

    python bench/redact_speed.py            # ~5 MB, best of 5
    python bench/redact_speed.py --size 1 --repeat 20
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from pathlib import Path

_ALNUM = "aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zCfLo"


def _fake(n: int, seed: int) -> str:
    return "".join(_ALNUM[(i * 7 + seed) % len(_ALNUM)] for i in range(n))


def planted_secrets(seed: int) -> str:
    """A handful of fake secrets, assembled at run time (no scanner-bait in this file)."""
    pem_body = "\n".join(_fake(64, seed + i) for i in range(3))
    return "\n".join(
        [
            f"GITHUB_TOKEN = 'ghp_{_fake(36, seed)}'",
            f"aws_key_id = 'AKIA{_fake(16, seed).upper()}'",
            f"db_url = 'postgres://app:{_fake(12, seed)}@db.internal:5432/app'",
            f"password = '{_fake(10, seed)}'",
            f"# sendgrid: SG.{_fake(22, seed)}.{_fake(43, seed + 1)}",
            f"do_token = 'dop_v1_{_fake(64, seed).lower().encode().hex()[:64]}'",
            f"headers = {{'Authorization': 'Bearer {_fake(40, seed)}'}}",
            f"KEY = '''-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n"
            "-----END RSA PRIVATE KEY-----'''",
        ]
    )


def build_corpus(size_bytes: int, every: int) -> tuple[str, int, int]:
    """(text, number of files used, number of secret blocks planted)."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    total = files = planted = 0
    for path in sorted(lib.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(f"# ---- {path.relative_to(lib)}\n{source}")
        total += len(source.encode("utf-8"))
        files += 1
        if files % every == 0:
            parts.append(planted_secrets(files))
            planted += 1
        if total >= size_bytes:
            break
    return "\n".join(parts), files, planted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=5.0, help="corpus size in MB (default 5)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best counts")
    parser.add_argument("--every", type=int, default=40, help="plant secrets every N files")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from ai_workbench.core.redact import redact

    text, files, planted = build_corpus(int(args.size * 1_000_000), args.every)
    mb = len(text.encode("utf-8")) / 1_000_000
    result = redact(text)  # warm-up, and the counts to show
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        redact(text)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    best = min(times)
    print(f"corpus: {mb:.2f} MB of stdlib source ({files} files), {planted} x 8 planted secrets")
    print(
        f"found:  {result.total} secrets: "
        + ", ".join(f"{n} {k}" for k, n in sorted(result.counts.items()))
    )
    print(
        f"redact: best of {args.repeat}: {best * 1000:.1f} ms -> {mb / best:.1f} MB/s "
        f"({best * 1000 / mb:.1f} ms per MB); CPU time {min(cpu) * 1000 / mb:.1f} ms per MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
