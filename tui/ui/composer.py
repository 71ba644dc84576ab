"""The composer: a multi-line input where Enter sends and ctrl+j adds a line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from .text import COMPOSER_HINT


class Composer(TextArea):
    """Enter sends. A terminal sends the same byte for Enter and shift+enter unless it
    speaks an extended keyboard protocol, so ctrl+j (a plain line feed, which every
    terminal delivers) is the newline key; shift+enter works too where it is reported."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="send", tooltip="Send the message or run the /command"),
        Binding(
            "ctrl+j,shift+enter",
            "newline",
            "Newline",
            id="newline",
            tooltip="Insert a new line (shift+enter only where the terminal reports it)",
        ),
    ]

    @dataclass
    class Submitted(Message):
        """The person sent a message or a slash command."""

        composer: Composer
        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=COMPOSER_HINT,
        )

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text.strip()
        if text:
            self.clear()
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self.insert("\n")
