"""Command groups of the ``aiw`` CLI that live outside :mod:`ai_workbench.cli.main`.

Each module defines click commands and is registered at the bottom of ``cli.py``. Like ``cli.py``
itself, a module here imports only click and the standard library at module level; everything
heavy is imported inside the command body, so ``aiw --help`` stays fast. Shared helpers
(``_guard``, ``_run_async``, ``_load``, ``_open_store``, ``CONTEXT_SETTINGS``) come from
:mod:`ai_workbench.cli.main`, imported inside functions or at module level (``cli`` registers the
commands after it has defined them).
"""
