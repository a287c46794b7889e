"""The workbench's panes: each composes a view widget (tui/widgets/) with its behaviour, reaches
services through the shared context (tui/context.py) and other panes through messages
(tui/messages.py) that the app routes. Widgets draw; panes act."""
