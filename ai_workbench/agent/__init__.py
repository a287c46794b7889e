"""Agent mode: carry out a goal with tools, under a permission policy, with an audit log.

``service.py`` is the public API (:class:`~ai_workbench.agent.service.AgentService`): it starts a
run, streams its events, stops it and lists, shows and rates past runs. ``loop.py`` is the run
loop (model ↔ tools, limits, summary), ``protocol.py`` the text protocol for models without tool
calls, ``summary.py`` what a run did, ``store.py`` + ``schema.py`` the audit tables.
"""
