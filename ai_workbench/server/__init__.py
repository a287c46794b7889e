"""`aiw serve`: the HTTP API over the same services the workbench and the CLI use.

An interface layer (like cli/ and tui/): it renders results as JSON and forwards requests to
the capabilities' services. FastAPI and uvicorn are imported only here, never by the
workbench or the other commands. ``app.create_app`` is the factory; ``routes/`` holds one
module per endpoint group, listed in ``app.ROUTERS`` (adding one is a module and a line).
"""
