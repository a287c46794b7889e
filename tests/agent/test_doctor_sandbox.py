"""`aiw doctor` says which sandbox the agent's commands run in, and why."""

from __future__ import annotations

import json
import shutil


def test_doctor_names_the_sandbox(run_aiw, isolated_env) -> None:
    (isolated_env.config / "aiw").mkdir(parents=True, exist_ok=True)
    isolated_env.write_user_config('[agent]\nsandbox = "none"\n')
    done = run_aiw("doctor", "--json", "--timeout", "1")
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"] if c["area"] == "agent"}
    assert checks["sandbox"]["status"] == "warn"
    assert "every command asks" in checks["sandbox"]["detail"]
    assert "bubblewrap" in checks["sandbox"]["fix"]
    if shutil.which("bwrap"):
        isolated_env.write_user_config('[agent]\nsandbox = "bwrap"\n')
        text = run_aiw("doctor", "--timeout", "1").stdout
        line = next(line for line in text.splitlines() if "sandbox:" in line)
        assert "bwrap" in line and ".git read-only" in line
