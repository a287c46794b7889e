"""Widgets of the workbench: session list, chat, prompt, chips, file tree, suggestions."""
