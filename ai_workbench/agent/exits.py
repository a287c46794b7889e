"""Exit codes of ``aiw agent`` beyond the shared ones (core/errors.py); stdlib only, so the CLI
can show them in ``--help`` without loading the agent."""

from __future__ import annotations

EXIT_LIMIT = 20  # a limit (steps, tokens, cost, wall clock) ended the run; summary printed
EXIT_REFUSED = 21  # actions were refused or denied (the goal may be only partly done)
EXIT_QUESTION = 22  # the model asked a question and no terminal could answer it
EXIT_AGENT_HELP = """\
Exit codes of aiw agent:
  0   done: the model finished the goal
  20  a limit ended the run (steps, tokens, cost or wall clock); the summary says what is left
  21  actions were refused or denied (headless, anything that must ask is refused)
  22  the model asked a question and there is no terminal to answer it (it is printed)
  130 stopped with Ctrl-C (every step so far stays in the log)
  1-13 errors, as for aiw ask (provider, configuration, storage): see aiw --help"""
