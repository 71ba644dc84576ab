"""The composer: a multi-line input where Enter sends and ctrl+j adds a line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from .select import ALT_DIGITS
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
    class Scroll(Message):
        """Page the chat from here: "up", "down", "start" or "end"."""

        where: str

    @dataclass
    class Submitted(Message):
        """The person sent a message or a slash command."""

        composer: Composer
        text: str

    def __init__(self, *, id: str | None = None, history: Callable[[], list[str]] = list) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=COMPOSER_HINT,
        )
        # Earlier prompts, oldest first: Up on the first line steps back through them.
        self._history = history
        self._browsing: list[str] | None = None
        self._at = 0
        self._draft = ""

    def _step(self, by: int) -> bool:
        """Show an earlier (-1) or later (+1) prompt; False when there is none to show."""
        if self._browsing is None:
            self._browsing, self._draft = self._history(), self.text
            self._at = len(self._browsing)
        at = self._at + by
        if at < 0 or at > len(self._browsing):
            return False
        self._at = at
        self.text = self._browsing[at] if at < len(self._browsing) else self._draft
        self.move_cursor(self.document.end if by > 0 else (0, len(self.document.lines[0])))
        if at == len(self._browsing):
            self._browsing = None
        return True

    async def _on_key(self, event: events.Key) -> None:
        where = {"pageup": "up", "pagedown": "down", "ctrl+home": "start", "ctrl+end": "end"}.get(event.key)
        if where is not None:  # the composer is a line or two: these keys move the chat
            event.stop()
            event.prevent_default()
            self.post_message(self.Scroll(where))
            return
        row = self.cursor_location[0]
        at_edge = (event.key == "up" and row == 0) or (
            event.key == "down" and self._browsing is not None and row == self.document.line_count - 1)
        if at_edge and self._step(-1 if event.key == "up" else 1):
            event.stop()
            event.prevent_default()
            return
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

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        """The option+digit characters are alt+1..9 in most terminals: the app's round keys
        (select.ALT_DIGITS) see them first, and they are typed here when those do not apply."""
        return key not in ALT_DIGITS and super().check_consume_key(key, character)

    def action_submit(self) -> None:
        text = self.text.strip()
        if text:
            self._browsing = None
            self.clear()
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self.insert("\n")
