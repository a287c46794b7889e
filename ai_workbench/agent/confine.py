"""Paths the agent's file tools may touch: inside the project, never ``.git``, secrets noticed.

:func:`resolve` turns what the model wrote (relative, ``./x``, absolute, with ``..`` or through a
symlink) into a real path and its project-relative POSIX name, or raises :class:`OutsideProject`.
Symlinks are resolved first, so ``link -> /etc`` and ``../..`` land where they really point.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ai_workbench.core.redact import is_env_filename

__all__ = [
    "OutsideProject",
    "is_git_path",
    "is_project_config",
    "is_secret_file",
    "resolve",
]

# Files whose content is a credential: reading one asks (the model would see the secret).
_SECRET_NAMES = re.compile(
    r"""(?ix)^(?:
        id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?(?:\.pub)?
      | .*\.(?:pem|key|p12|pfx|jks|keystore|kdbx|asc|gpg|ovpn|tfvars|tfstate)
      | \.netrc | _netrc | \.pgpass | \.npmrc | \.pypirc | \.git-credentials | \.htpasswd
      | \.dockercfg | \.s3cfg | \.boto | \.vault-token | \.terraformrc | terraform\.tfstate.*
      | credentials(?:\.(?:json|ya?ml|toml|ini|txt|xml|csv|db))?
      | secrets?\.(?:json|ya?ml|toml|ini|txt|env) | .*service[-_]account.*\.json
      | .*client_secret.*\.json | kubeconfig
    )$""",
)
_SECRET_DIRS = frozenset(
    {".ssh", ".gnupg", ".aws", ".kube", ".docker", ".azure", ".password-store"}
)


class OutsideProject(ValueError):
    """A path that leads outside the project (``str()`` says where it leads)."""


def resolve(root: Path, name: str) -> tuple[Path, str]:
    """``(absolute real path, project-relative POSIX name)`` of ``name`` under ``root``."""
    base = root.resolve()
    text = str(name or ".").strip()
    if not text:
        text = "."
    if text.startswith("~"):
        raise OutsideProject(f"{text} is in a home directory, outside the project {base}")
    raw = Path(text)
    target = (raw if raw.is_absolute() else base / raw).resolve()
    if target != base and base not in target.parents:
        via = " (through a symlink)" if not (raw.is_absolute() or ".." in raw.parts) else ""
        raise OutsideProject(f"{text} leads outside the project {base}{via}")
    rel = target.relative_to(base).as_posix()
    return target, rel


def is_git_path(rel: str) -> bool:
    """Inside git's own files (``.git/`` at any depth: submodules, worktrees too)."""
    return ".git" in PurePosixPath(rel).parts


def is_project_config(rel: str) -> bool:
    """aiw's project settings (``.aiw.toml``, ``.aiw/``): writing them changes the agent's rules."""
    parts = PurePosixPath(rel).parts
    return bool(parts) and (parts[-1] == ".aiw.toml" or parts[0] == ".aiw")


def is_secret_file(rel: str) -> bool:
    """A name that usually holds credentials (``.env``, keys, ``credentials``, ``.netrc``...)."""
    pure = PurePosixPath(rel)
    if not pure.parts:
        return False
    if is_env_filename(pure.name) or _SECRET_NAMES.match(pure.name):
        return not pure.name.endswith((".example", ".sample", ".template", ".dist"))
    return any(part in _SECRET_DIRS for part in pure.parts[:-1])
