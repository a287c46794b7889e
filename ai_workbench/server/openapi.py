"""The committed OpenAPI document: ``python -m ai_workbench.server.openapi > docs/openapi.yaml``.

tests/test_server_contract.py fails when the app's schema and docs/openapi.yaml differ (so a
contract change is reviewed) and when a path and method in it has no test that calls it.
"""

from __future__ import annotations

import sys
from typing import Any

REGENERATE = "python -m ai_workbench.server.openapi > docs/openapi.yaml"


def schema() -> dict[str, Any]:
    """The app's OpenAPI document, independent of the machine it is made on."""
    from ai_workbench.core.settings import load_config
    from ai_workbench.server.app import create_app

    app = create_app(load_config(), project_root=_neutral_root())
    return app.openapi()


def _neutral_root() -> Any:
    import tempfile
    from pathlib import Path

    return Path(tempfile.gettempdir())


def to_yaml(document: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100)


def main() -> None:
    sys.stdout.write(to_yaml(schema()))


if __name__ == "__main__":
    main()
