"""One module per endpoint group; each has a ``router`` (mounted under ``/v1`` by app.py)."""
