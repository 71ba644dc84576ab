"""Search in the conversation: a small input above the chat pane."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual.binding import BindingType
from textual.message import Message
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

    @dataclass
    class Search(Message):
        """Find the next match of `text` (the chat pane this bar sits in answers)."""

        bar: FindBar
        text: str

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Search(self, event.value))

    def found(self, found: bool) -> None:
        self.set_class(not found, "-none")
        if not found:
            self.app.notify(f"not found: {self.value}", severity="warning", markup=False)

    def action_close(self) -> None:
        self.display = False
        if self._return_to is not None and self._return_to.is_mounted:
            self._return_to.focus()
