"""Users of `aiw serve`: names, admin flags and hashed API tokens (service.py is the API)."""
