"""``/v1/settings``: the effective settings, secrets masked (members read; admins change an
allow-listed few, written to the server's user config file like `aiw config set`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ai_workbench.server.deps import Caller, State, require_admin
from ai_workbench.server.problems import ApiProblem

router = APIRouter(tags=["settings"])

#: What an admin may change through the API (everything else: `aiw config set` on the server).
MUTABLE: tuple[str, ...] = (
    "default_provider",
    "chat.persona",
    "chat.temperature",
    "chat.max_output_tokens",
    "knowledge.threshold",
    "knowledge.top_k",
    "review.persona",
    "review.min_confidence",
    "review.max_findings_per_file",
    "server.rate_per_minute",
    "server.burst",
    "server.max_model_calls",
)


class SettingsOut(BaseModel):
    settings: dict[str, Any] = Field(description="effective settings, secrets masked")
    mutable: list[str] = Field(description="keys an admin may change with PATCH")


class SettingsPatch(BaseModel):
    changes: dict[str, Any] = Field(
        min_length=1, description='dotted key -> new value, e.g. {"knowledge.top_k": 5}'
    )


def _masked(state: Any) -> dict[str, Any]:
    from ai_workbench.core.settings import mask_value

    def walk(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        return mask_value(key, value)

    data = state.settings.model_dump(mode="json")
    for server in data.get("mcp", {}).get("servers", {}).values():
        for table in ("env", "headers"):  # values there are often tokens
            server[table] = {name: "****" for name in server.get(table, {})}
    return walk(data, "")  # type: ignore[no-any-return]


@router.get("/settings", summary="The server's effective settings (secrets masked)")
async def read_settings(user: Caller, state: State) -> SettingsOut:
    return SettingsOut(settings=_masked(state), mutable=list(MUTABLE))


@router.patch("/settings", summary="Change allow-listed settings (admins)")
async def change_settings(body: SettingsPatch, user: Caller, state: State) -> SettingsOut:
    from ai_workbench.core.settings import ConfigError, set_user_values, user_config_path

    require_admin(user)
    for key in body.changes:
        if key not in MUTABLE:
            raise ApiProblem(
                422, f"changes.{key}: not changeable through the API; allowed: "
                + ", ".join(MUTABLE), kind="validation",
                errors=[{"field": f"changes.{key}", "message": "not changeable"}],
            )  # fmt: skip
    for key, value in body.changes.items():
        if not isinstance(value, str | int | float | bool) or value is None:
            raise ApiProblem(
                422, f"changes.{key}: give a string, number or true/false", kind="validation",
                errors=[{"field": f"changes.{key}", "message": "must be a scalar"}],
            )  # fmt: skip
    changes = [(key, json.dumps(value)) for key, value in body.changes.items()]
    try:  # all of them or none: one bad value leaves the file as it was
        set_user_values(changes, cwd=state.project_root)
    except ConfigError as exc:
        key = exc.key or next(iter(body.changes), "")
        # the server's own paths are not the client's business
        message = (
            str(exc)
            .replace(f"{user_config_path()}: ", "")
            .replace(str(user_config_path()), "the server's config")
        )
        raise ApiProblem(
            422, f"changes.{key}: {message}", kind="validation",
            errors=[{"field": f"changes.{key}", "message": message}],
        ) from None  # fmt: skip
    state.reload()
    await state.audit(user.name, "api.settings", {"changes": body.changes})
    return SettingsOut(settings=_masked(state), mutable=list(MUTABLE))
