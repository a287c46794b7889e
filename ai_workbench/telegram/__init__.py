"""The Telegram channel: `aiw telegram` (python-telegram-bot, long polling), an interface like the
CLI and the workbench over the chat and knowledge services (docs/telegram.md).

Nothing here imports ``telegram`` (python-telegram-bot) at module level except :mod:`.bot`, which
only ``aiw telegram`` (run) loads.
"""
