"""The footer: Textual's, recomposed only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """Textual's footer recomposes whenever the screen says its bindings changed. At start-up
    that is said five times (focus, screen resume, idle) for the same keys, and every recompose
    holds the screen's painting: the first frame waited for all five. This one recomposes only
    when what it shows (the keys, their labels, whether they are enabled) is different."""

    _shown: Any = None

    def bindings_changed(self, screen: Any) -> None:
        shown = _keys_shown(screen)
        if shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)


def _keys_shown(screen: Any) -> tuple[Any, ...]:
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding.action, binding.description, binding.group, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )
