"""Where the agent's commands run: bubblewrap, else Landlock, else no OS sandbox (then each asks).

:func:`detect` probes once per project (a real ``true`` run inside each candidate) and returns a
:class:`Sandbox` whose ``reason`` says why it was chosen, or what failed and what to install.

* **bwrap** (bubblewrap): the whole filesystem read-only, the project read-write, ``.git`` and
  aiw's project config (``.aiw.toml``, ``.aiw/``) read-only again, a private ``/tmp``, ``HOME``
  a fresh directory inside it, no network (``--unshare-net``) unless allowed, its own PID, IPC
  and UTS namespaces, a new session (no typing into the user's terminal), the user's runtime
  dir, the container daemons' sockets and the credentials in the home directory hidden, and
  it dies with aiw.
* **landlock** (Linux ≥ 5.13, via py-landlock in a small exec helper,
  :mod:`ai_workbench.agent.landlock_run`): reads everywhere but the home directory's
  credentials and aiw's own dirs, writes only in the project and a private temp dir, TCP
  connect/bind refused (ABI ≥ 4). Landlock cannot carve a read-only
  directory out of a writable one, so ``.git`` stays writable there; the reason says so.
* **none**: the command runs as a plain subprocess, and the policy makes every command ask.

Every kind scrubs the environment (variables whose name looks secret are not passed), starts
the command in its own process group, kills the group on timeout, and keeps only the head and
tail of the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ai_workbench.core.redact import is_secret_name

__all__ = ["CommandResult", "Sandbox", "cut", "detect", "plain_env"]

Kind = Literal["bwrap", "landlock", "none"]
MAX_CAPTURE = 262_144  # bytes of output kept from each end while a command runs
_PROBE_TIMEOUT = 10.0
_INSTALL = (
    "install bubblewrap (Debian/Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap) "
    "and make sure unprivileged user namespaces are allowed "
    "(sysctl kernel.unprivileged_userns_clone=1; Ubuntu 24.04: "
    "kernel.apparmor_restrict_unprivileged_userns=0)"
)


@dataclass
class CommandResult:
    exit_code: int | None  # None: killed on timeout
    output: str  # stdout and stderr interleaved, head and tail when long
    duration_ms: float
    timed_out: bool
    killed: bool  # ended by a signal (ours on timeout, or another)


def cut(text: str, head: int, tail: int) -> tuple[str, bool]:
    """``text`` cut to its first ``head`` and last ``tail`` characters; whether it was cut."""
    if len(text) <= head + tail + 80:
        return text, False
    dropped = len(text) - head - tail
    return f"{text[:head]}\n[… {dropped} characters cut …]\n{text[-tail:]}", True


def plain_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a command: aiw's, without variables whose name looks secret."""
    env = {k: v for k, v in os.environ.items() if not is_secret_name(k)}
    env.pop("AIW_CONFIG", None)
    if extra:
        env.update(extra)
    return env


@dataclass
class Sandbox:
    kind: Kind
    reason: str  # why this one: the probe's result, what to install for a better one
    project_root: Path = field(default_factory=Path.cwd)
    network: bool = False

    # --- running ---------------------------------------------------------------------------

    def argv(self, command: str, cwd: Path, *, network: bool, home: Path) -> list[str]:
        """The argument vector that runs ``command`` (through ``bash -c``) in this sandbox."""
        shell = ["bash", "-c", command]
        if self.kind == "bwrap":
            return [*_bwrap_args(self.project_root, cwd, network=network, home=home), *shell]
        if self.kind == "landlock":
            helper = [sys.executable, "-m", "ai_workbench.agent.landlock_run"]
            flags = ["--root", str(self.project_root), "--tmp", str(home)]
            if network:
                flags.append("--network")
            for path in _secret_paths(self.project_root):
                flags += ["--hide", str(path)]
            return [*helper, *flags, "--", *shell]
        return shell

    async def run(
        self,
        command: str,
        cwd: Path,
        *,
        timeout: float,
        network: bool = False,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        """Run ``command`` in ``cwd``; at most ``timeout`` seconds, then the group is killed."""
        start = time.perf_counter()
        with contextlib.ExitStack() as stack:
            # bwrap's HOME and /tmp are a tmpfs of its own; Landlock needs a real private dir.
            home = Path("/tmp/home")
            if self.kind == "landlock":
                home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aiw-agent-")))
            if self.kind == "bwrap":
                extra = {"HOME": "/tmp/home", "TMPDIR": "/tmp"}
            elif self.kind == "landlock":
                extra = {"HOME": str(home), "TMPDIR": str(home)}
            else:  # no sandbox: each command was approved, it runs as if the user typed it
                extra = {}
            full_env = plain_env({**(env or {}), **extra})
            argv = self.argv(command, Path(cwd), network=network or self.network, home=home)
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=full_env,
                start_new_session=True,
            )
            capture = _Capture()
            reader = asyncio.create_task(capture.read(proc.stdout))
            timed_out = False
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                timed_out = True
                _kill_group(proc.pid)
                await proc.wait()
            except asyncio.CancelledError:
                _kill_group(proc.pid)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(proc.wait(), 2)
                raise
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader, 2)
            reader.cancel()
        code = proc.returncode
        return CommandResult(
            exit_code=None if timed_out else code,
            output=capture.text(),
            duration_ms=(time.perf_counter() - start) * 1000,
            timed_out=timed_out,
            killed=timed_out or (code is not None and code < 0),
        )


class _Capture:
    """Keeps the first and the last MAX_CAPTURE bytes of a stream."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    async def read(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65_536):
            room = MAX_CAPTURE - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail += chunk
            if len(self.tail) > MAX_CAPTURE:
                self.dropped += len(self.tail) - MAX_CAPTURE
                del self.tail[: len(self.tail) - MAX_CAPTURE]

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        if not self.tail:
            return head
        gap = f"\n[… {self.dropped} bytes cut …]\n" if self.dropped else ""
        return head + gap + self.tail.decode("utf-8", "replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _bwrap_args(root: Path, cwd: Path, *, network: bool, home: Path | None = None) -> list[str]:
    root = root.resolve()
    args = [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--dir", "/tmp/home",
        "--bind", str(root), str(root),
    ]  # fmt: skip
    for path in _tools_under_tmp(root):  # your venv under /tmp stays usable, read-only
        args += ["--ro-bind", str(path), str(path)]
    for name in (".git", ".aiw.toml", ".aiw"):
        path = root / name
        if path.exists() and not path.is_symlink():
            args += ["--ro-bind", str(path), str(path)]
    args += _masked_sockets(root)
    args += _masked_secrets(root)
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    args += ["--die-with-parent", "--new-session", "--chdir", str(cwd), "--"]
    return args


def _tools_under_tmp(root: Path) -> list[Path]:
    """Directories on PATH, the active venv and aiw's own under /tmp, which the sandbox's
    private /tmp would hide: a venv's whole directory when PATH holds its bin/. Not the
    project itself (bound read-write already)."""
    found: list[Path] = []
    names = [
        *os.environ.get("PATH", "").split(os.pathsep),
        os.environ.get("VIRTUAL_ENV", ""),
        sys.prefix,  # the Python aiw runs in
    ]
    for name in names:
        if not name or not name.startswith("/tmp/"):
            continue
        path = Path(name)
        if path.name == "bin" and (path.parent / "pyvenv.cfg").is_file():
            path = path.parent
        try:
            path = path.resolve()
        except OSError:
            continue
        if not path.is_dir() or not str(path).startswith("/tmp/") or path == root:
            continue
        if root in path.parents or path in root.parents or path in found:
            continue
        found.append(path)
    return found


# A read-only mount does not stop connect() on a Unix socket: hide the ones that hand out power
# (the Docker/Podman daemons run anything as root; the session bus, ssh-agent, gpg-agent).
_HOST_SOCKETS = (
    "/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock",
    "/run/containerd/containerd.sock", "/run/dbus/system_bus_socket",
    "/var/run/dbus/system_bus_socket",
)  # fmt: skip
_RUNTIME_DIRS = ("/run/user",)


def _masked_sockets(root: Path) -> list[str]:
    args: list[str] = []
    dirs = [*_RUNTIME_DIRS, os.environ.get("XDG_RUNTIME_DIR", "")]
    for name in dict.fromkeys(d for d in dirs if d):
        path = Path(name)
        related = path == root or path in root.parents or root in path.parents
        hidden = str(path).startswith("/tmp/")  # under the sandbox's own /tmp already
        if path.is_dir() and not path.is_symlink() and not related and not hidden:
            args += ["--tmpfs", str(path)]
    for name in _HOST_SOCKETS:
        if os.path.exists(name) and not os.path.islink(name):
            args += ["--ro-bind", "/dev/null", name]
    return args


# Credentials in the home directory, and aiw's own files (sessions, config): covered inside
# the sandbox, as nothing a project's command needs.
_HOME_SECRETS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".config/gcloud", ".config/gh",
    ".password-store", ".netrc", ".git-credentials", ".pgpass", ".npmrc", ".pypirc",
    ".vault-token", ".terraformrc", ".terraform.d/credentials.tfrc.json", ".config/hub",
    ".local/share/keyrings", ".mozilla", ".config/google-chrome", ".config/chromium",
)  # fmt: skip


def _homes() -> list[Path]:
    import pwd

    homes = [os.environ.get("HOME", "")]
    with contextlib.suppress(KeyError):
        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    return [Path(h) for h in dict.fromkeys(homes) if h]


def _secret_paths(root: Path) -> list[Path]:
    """The credential files and dirs of the home directory, and aiw's own dirs, that exist
    and are neither the project nor above it."""
    from ai_workbench.core import paths

    candidates = [home / name for home in _homes() for name in _HOME_SECRETS]
    candidates += [paths.config_dir(), paths.data_dir()]
    out: list[Path] = []
    for path in dict.fromkeys(p.resolve() if p.is_symlink() else p for p in candidates):
        if path == root or path in root.parents or root in path.parents or not path.exists():
            continue
        out.append(path)
    return out


def _masked_secrets(root: Path) -> list[str]:
    args: list[str] = []
    for path in _secret_paths(root):
        if str(path).startswith("/tmp/"):
            continue  # under the sandbox's own /tmp already
        args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    return args


# ------------------------------------------------------------------------------ probing

_CACHE: dict[tuple[str, str, bool], Sandbox] = {}


def _probe(argv: list[str], cwd: Path) -> str | None:
    """None when ``argv`` ran ``true`` fine, else the first line of what went wrong."""
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=_PROBE_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL, env=plain_env(),
        )  # fmt: skip
    except FileNotFoundError as exc:
        return f"{exc.filename or argv[0]} is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if done.returncode == 0:
        return None
    lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit {done.returncode}")[:300]


def detect(project_root: Path, prefer: str = "auto", *, network: bool = False) -> Sandbox:
    """The best sandbox that works here for ``project_root`` (probed once, then cached).

    ``prefer`` (``[agent] sandbox``): ``auto`` tries bubblewrap, then Landlock; ``bwrap`` or
    ``landlock`` try only that one; ``none`` runs commands without an OS sandbox (each asks)."""
    root = Path(project_root).resolve()
    key = (str(root), prefer, network)
    if key in _CACHE:
        return _CACHE[key]
    failures: list[str] = []
    chosen: Sandbox | None = None
    if prefer == "none":
        chosen = Sandbox("none", "[agent] sandbox = \"none\": commands run without an OS "
                         "sandbox, so every command asks", root, network)  # fmt: skip
    if chosen is None and prefer in ("auto", "bwrap"):
        chosen = _try_bwrap(root, network, failures)
    if chosen is None and prefer in ("auto", "landlock"):
        chosen = _try_landlock(root, network, failures)
    if chosen is None:
        why = "; ".join(failures) or "no sandbox was tried"
        chosen = Sandbox(
            "none", f"no OS sandbox works here ({why}), so every command asks; {_INSTALL}",
            root, network,
        )  # fmt: skip
    _CACHE[key] = chosen
    return chosen


def _try_bwrap(root: Path, network: bool, failures: list[str]) -> Sandbox | None:
    if shutil.which("bwrap") is None:
        failures.append("bubblewrap (bwrap) is not installed")
        return None
    with tempfile.TemporaryDirectory(prefix="aiw-probe-") as scratch:
        argv = [*_bwrap_args(root, root, network=network, home=Path(scratch)), "true"]
        problem = _probe(argv, root)
    if problem is not None:
        failures.append(f"bwrap fails: {problem}")
        return None
    net = "network allowed" if network else "no network"
    return Sandbox(
        "bwrap",
        f"bubblewrap: read-only system, read-write project, .git read-only, private /tmp, {net}",
        root,
        network,
    )


def _try_landlock(root: Path, network: bool, failures: list[str]) -> Sandbox | None:
    try:
        import py_landlock  # noqa: F401 - only to know it is installed
    except ImportError:
        failures.append("py-landlock is not installed (pip install py-landlock)")
        return None
    with tempfile.TemporaryDirectory(prefix="aiw-probe-") as scratch:
        sandbox = Sandbox("landlock", "", root, network)
        argv = sandbox.argv("true", root, network=network, home=Path(scratch))
        problem = _probe(argv, root)
    if problem is not None:
        failures.append(f"Landlock fails: {problem}")
        return None
    net = "network allowed" if network else "no TCP connections"
    sandbox.reason = (
        f"Landlock: writes only inside the project and a private temp dir, {net}; "
        ".git stays writable (Landlock cannot make part of the project read-only)"
        + (f" (bubblewrap: {failures[-1]})" if failures else "")
    )
    return sandbox
