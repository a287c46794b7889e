"""The Textual workbench: what `aiw` with no subcommand opens.

Importing this package (or :mod:`ai_workbench.tui.app`) is cheap on purpose: Textual and the
standard library only. Config, the store, personas and the model clients load in workers
after the first frame (see ``docs/workbench.md``).
"""

from __future__ import annotations

import time

#: ``time.perf_counter()`` when the workbench package was first imported; the app logs
#: "started in N ms" against it once the first frame is up.
STARTED_AT = time.perf_counter()
