"""Search in the conversation: a small input above the chat pane."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import BindingType
from textual.widgets import Input

if TYPE_CHECKING:
    from textual.widget import Widget


class FindBar(Input):
    """Enter jumps to the next (older) match; escape closes and gives focus back."""

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "close", "close search")]

    def __init__(self) -> None:
        super().__init__(placeholder="find in the conversation · enter: next match · escape: close", id="find")
        self._return_to: Widget | None = None

    def open(self, return_to: Widget | None) -> None:
        if return_to is not self:
            self._return_to = return_to
        self.display = True
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from .chat import ChatPane

        event.stop()
        chat = next((a for a in self.ancestors if isinstance(a, ChatPane)), None)
        found = chat.find(event.value) if chat is not None else False
        self.set_class(not found, "-none")
        if not found:
            self.app.notify(f"not found: {event.value}", severity="warning", markup=False)

    def action_close(self) -> None:
        self.display = False
        if self._return_to is not None and self._return_to.is_mounted:
            self._return_to.focus()
