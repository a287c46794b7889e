"""The real sandboxes: bubblewrap (and Landlock) keep writes in the project and the network off."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from ai_workbench.agent.sandbox import Sandbox, cut, detect


def _sandbox(root: Path, kind: str) -> Sandbox:
    sandbox = detect(root, kind)
    if sandbox.kind != kind:
        pytest.skip(f"{kind} does not work here: {sandbox.reason}")
    return sandbox


class _Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = _Listener()
    yield server
    server.close()


def _connect(port: int) -> str:
    return (
        "python3 -c \"import socket; socket.create_connection(('127.0.0.1', "
        f"{port}), timeout=3); print('CONNECTED')\""
    )


@pytest.mark.parametrize("kind", ["bwrap", "landlock"])
async def test_writes_stay_inside_the_project(repo: Path, tmp_path: Path, kind: str) -> None:
    sandbox = _sandbox(repo, kind)
    outside = tmp_path / "outside"
    outside.mkdir()
    inside = await sandbox.run("echo made > new.txt && cat new.txt", repo, timeout=20)
    assert inside.exit_code == 0 and "made" in inside.output
    assert (repo / "new.txt").read_text() == "made\n"
    escape = await sandbox.run(f"echo x > {outside}/pwned.txt", repo, timeout=20)
    assert not (outside / "pwned.txt").exists()
    if kind == "landlock":
        assert escape.exit_code != 0 and "Permission denied" in escape.output
    system = await sandbox.run("touch /usr/aiw-sandbox-test", repo, timeout=20)
    assert system.exit_code != 0
    assert not Path("/usr/aiw-sandbox-test").exists()


async def test_bwrap_keeps_git_read_only(repo: Path) -> None:
    sandbox = _sandbox(repo, "bwrap")
    head = (repo / ".git" / "HEAD").read_text()
    result = await sandbox.run("echo x > .git/HEAD; touch .git/evil", repo, timeout=20)
    assert "Read-only file system" in result.output
    assert (repo / ".git" / "HEAD").read_text() == head
    assert not (repo / ".git" / "evil").exists()
    commit = await sandbox.run("git commit --allow-empty -qm x", repo, timeout=20)
    assert commit.exit_code != 0


@pytest.mark.parametrize("kind", ["bwrap", "landlock"])
async def test_no_network_unless_allowed(repo: Path, listener: _Listener, kind: str) -> None:
    sandbox = _sandbox(repo, kind)
    blocked = await sandbox.run(_connect(listener.port), repo, timeout=20)
    assert blocked.exit_code != 0
    assert "CONNECTED" not in blocked.output
    assert listener.accepted == 0
    allowed = await sandbox.run(_connect(listener.port), repo, timeout=20, network=True)
    assert "CONNECTED" in allowed.output, allowed.output


async def test_home_is_private_and_secrets_are_not_passed(repo: Path, monkeypatch) -> None:
    sandbox = _sandbox(repo, "bwrap")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-123456789")
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    result = await sandbox.run("echo $HOME; env", repo, timeout=20)
    assert result.output.splitlines()[0] == "/tmp/home"
    assert "tok-123456789" not in result.output
    assert "PLAIN_SETTING=visible" in result.output


async def test_a_command_past_its_timeout_is_killed(repo: Path) -> None:
    for kind in ("bwrap", "none"):
        sandbox = detect(repo, kind) if kind != "none" else Sandbox("none", "test", repo)
        if sandbox.kind != kind:
            continue
        result = await sandbox.run("echo started; sleep 30; echo never", repo, timeout=1)
        assert result.timed_out and result.killed and result.exit_code is None
        assert "started" in result.output and "never" not in result.output
        assert result.duration_ms < 10_000


def test_no_sandbox_says_why_and_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    import ai_workbench.agent.sandbox as module

    monkeypatch.setattr(module, "_CACHE", {})
    sandbox = detect(tmp_path, "bwrap")
    assert sandbox.kind == "none"
    assert "bubblewrap (bwrap) is not installed" in sandbox.reason
    assert "apt install bubblewrap" in sandbox.reason


def test_cut_keeps_head_and_tail() -> None:
    text = "".join(f"line {i}\n" for i in range(5000))
    short, was_cut = cut(text, 300, 200)
    assert was_cut and short.startswith("line 0\n") and short.endswith("line 4999\n")
    assert "characters cut" in short and len(short) < 700


async def test_sockets_in_the_runtime_dir_are_hidden(repo: Path, monkeypatch) -> None:
    """A read-only mount does not stop connect() on a Unix socket (docker.sock, ssh-agent): the
    user's runtime dir is replaced by an empty one inside bubblewrap."""
    import shutil
    import tempfile

    sandbox = _sandbox(repo, "bwrap")
    runtime = Path(tempfile.mkdtemp(prefix="aiw-runtime-", dir="/var/tmp"))
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(runtime / "agent.sock"))
        server.listen(1)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        probe = (
            'python3 -c "import socket; s=socket.socket(socket.AF_UNIX); '
            f"s.connect('{runtime}/agent.sock'); print('CONNECTED')\""
        )
        result = await sandbox.run(probe, repo, timeout=20)
        assert result.exit_code != 0 and "CONNECTED" not in result.output
    finally:
        server.close()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.parametrize("kind", ["bwrap", "landlock"])
async def test_credentials_in_home_are_hidden(repo: Path, monkeypatch, kind: str) -> None:
    import shutil
    import tempfile

    sandbox = _sandbox(repo, kind)
    home = Path(tempfile.mkdtemp(prefix="aiw-home-", dir="/var/tmp"))
    try:
        (home / ".ssh").mkdir()
        (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY MATERIAL\n")
        (home / ".netrc").write_text("machine x login me password SECRET-NETRC\n")
        (home / "notes.txt").write_text("plain notes\n")
        monkeypatch.setenv("HOME", str(home))
        result = await sandbox.run(
            f"cat {home}/.ssh/id_ed25519 {home}/.netrc {home}/notes.txt", repo, timeout=20
        )
        assert "PRIVATE KEY MATERIAL" not in result.output
        assert "SECRET-NETRC" not in result.output
        assert "plain notes" in result.output  # the rest of home stays readable
        assert (home / ".ssh" / "id_ed25519").read_text() == "PRIVATE KEY MATERIAL\n"
    finally:
        shutil.rmtree(home, ignore_errors=True)
