"""The headless ``aiw`` CLI: one module per command group, registered lazily by the click group.

* :mod:`ai_workbench.cli.main`: the root group (``aiw`` alone opens the workbench) and the table
  of subcommands (``LAZY_COMMANDS``), each imported only when it runs or ``--help`` lists it;
* :mod:`ai_workbench.cli.common`: the helpers every command shares (``guard``, ``run_async``,
  ``fail``, ``load_settings``, ``open_store``, ``CONTEXT_SETTINGS``);
* :mod:`ai_workbench.cli.output`: terminal rendering (rich on a terminal, plain text in a pipe);
* one module per command group: ``chat`` (ask), ``sessions``, ``personas``, ``plugins``,
  ``config``, ``shell`` (shell, on, off, explain, history), ``review``, ``knowledge`` (index,
  search, kb), ``watch`` (watch, suggestions).

A command module imports only click, the standard library and ``cli.common`` at module level;
everything heavy is imported inside the command body, so ``aiw --help`` stays fast. The work
itself is done by the capability services (``ai_workbench.<capability>.service``).
"""
