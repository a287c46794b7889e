"""Chat: sessions, messages, context assembly, personas, plugins.

Other packages call :mod:`ai_workbench.chat.service`.
"""
