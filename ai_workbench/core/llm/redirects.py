"""Say once when a project's ``.aiw.toml`` changes where requests go.

A project file may *choose among* what the user configured (``default_provider``,
``fallback``, ``review.model`` ...) and, once trusted (``aiw plugins trust``), point at
endpoints of its own; core/settings.py refuses the rest. Either way the user should know: the
first time such an endpoint is used, one line names the project file, the key and the endpoint.
It is remembered per project file + key + endpoint (``project-endpoints.json`` in the data
dir), so it is not repeated on every command, and shown again when the endpoint changes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ai_workbench.core.settings import Layer, Settings

Notice = Callable[[str], None]

# Keys whose value picks a provider profile, or a model resolved on its own.
_PROFILE_KEYS = (("default_provider",), ("review", "provider"), ("shell", "provider"))
_MODEL_KEYS = (("review", "model"), ("watch", "model"), ("shell", "model"))


def _get(data: Mapping[str, Any], key: tuple[str, ...]) -> Any:
    value: Any = data
    for part in key:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def project_endpoints(
    settings: Settings,
    project: Layer,
    below: Mapping[str, Any],
    provenance: Mapping[tuple[str, ...], Layer],
    *,
    resolve_profile: Callable[..., Any],
    resolve_chain: Callable[..., Any],
) -> dict[str, tuple[str, str]]:
    """endpoint → (dotted key, value) for every endpoint the project file put in use.

    ``below`` is the user's own configuration (bundled defaults + user file, merged): a key
    the project sets to the value the user already has changes nothing and is not listed.
    """
    from ai_workbench.core.errors import ProviderError

    found: dict[str, tuple[str, str]] = {}

    def from_project(key: tuple[str, ...]) -> bool:
        return provenance.get(key) is project and _get(project.data, key) != _get(below, key)

    def profile(name: str, key: tuple[str, ...], value: Any) -> None:
        if name in settings.providers:
            endpoint = resolve_profile(name, settings.providers[name]).endpoint
            found.setdefault(endpoint, (".".join(key), str(value)))

    for key in _PROFILE_KEYS:
        value = _get(project.data, key)
        if isinstance(value, str) and value and from_project(key):
            profile(value, key, value)
    if from_project(("fallback",)):
        for name in settings.fallback:
            if name not in (_get(below, ("fallback",)) or []):
                profile(name, ("fallback",), name)
    for name in settings.providers:
        for field in ("api_base", "model"):
            key = ("providers", name, field)
            if from_project(key):
                profile(name, key, _get(project.data, key))
    shell_base = settings.shell.api_base or None
    for key in (*_MODEL_KEYS, ("shell", "api_base")):
        value = _get(project.data, key)
        if not (isinstance(value, str) and value and from_project(key)):
            continue
        shell = key[0] == "shell"
        model = settings.shell.model if key == ("shell", "api_base") else value
        if not model:
            model = settings.providers[settings.default_provider].model
        try:
            chosen = resolve_chain(settings, model=model, api_base=shell_base if shell else None)[0]
        except ProviderError:
            continue
        found.setdefault(chosen.endpoint, (".".join(key), value))
    return found


def _seen_file() -> Path:
    from ai_workbench.core import paths

    return paths.data_dir() / "project-endpoints.json"


def _load_seen() -> list[str]:
    try:
        data = json.loads(_seen_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(item) for item in data] if isinstance(data, list) else []


def announce(project_file: str, key: str, value: str, endpoint: str, notice: Notice | None) -> bool:
    """Show the one-line notice unless it was shown before; True when it was shown now."""
    from ai_workbench.core import paths

    marker = f"{project_file}\0{key}\0{endpoint}"
    seen = _load_seen()
    if marker in seen:
        return False
    line = (
        f"{project_file} sets {key} = {value!r}: requests go to {endpoint} "
        "(shown once; remove the key from that file to use your own settings)"
    )
    if notice is not None:
        notice(line)
    else:
        print(f"aiw: notice: {line}", file=sys.stderr)
    path = _seen_file()
    try:
        paths.ensure_private_dir(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps([*seen, marker], indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # shown again next time: better than not at all
    return True


def announce_project_endpoint(
    settings: Settings,
    endpoint: str,
    notice: Notice | None,
    *,
    resolve_profile: Callable[..., Any],
    resolve_chain: Callable[..., Any],
) -> bool:
    """The notice for ``endpoint`` when the project file put it in use (once).

    The resolvers come from :mod:`ai_workbench.core.llm.profiles` (its caller), so this module
    does not import it back."""
    if settings._project_endpoints is None and settings._project_inputs is not None:
        settings._project_endpoints = project_endpoints(
            settings,
            *settings._project_inputs,
            resolve_profile=resolve_profile,
            resolve_chain=resolve_chain,
        )
    chosen = settings.project_endpoints.get(endpoint.rstrip("/"))
    if chosen is None or settings.project_file is None:
        return False
    key, value = chosen
    return announce(settings.project_file, key, value, endpoint.rstrip("/"), notice)
