"""The shell hook: failed commands in bash and zsh are captured, explained and given fixes.

Flow (docs/shell.md, ../design/SHELL_HOOK.md):

1. ``hook.bash`` / ``hook.zsh`` (package data, printed by ``aiw shell init``) notice a failure
   without a fork on success, append one JSON line to the spool (:mod:`.spool`) and start
   ``python -m ai_workbench.cli.shell_worker`` detached.
2. The worker reads the output from the terminal's scrollback (:mod:`.capture`), applies the
   configured ignore rules (:mod:`.rules`), stores the event (:mod:`.events`) and, unless
   ``shell.auto_analyse`` is off, analyses it (:mod:`.analysis`: context tiers, redaction, the
   model's JSON, :mod:`.risk` classification) and queues a ``shell`` suggestion.
3. ``aiw explain`` / ``aiw history`` and the workbench's suggestions panel show the result.

Opt-in capture modes (``shell.capture``): ``tee`` copies each command's stderr through one
long-lived reader per shell (:mod:`.tee`), ``pty`` runs the shell under a proxy that splits its
output at OSC 133 marks (:mod:`.pty_proxy`, ``aiw shell pty``); both leave a file per reported
failure that the worker reads instead of the scrollback.

Modules here import only the standard library at module level (the worker must start fast to
read the scrollback before the user types on); heavy parts load inside functions.
"""
