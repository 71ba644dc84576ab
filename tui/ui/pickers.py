"""Pickers: a saved session to open, a branch of the conversation to go on from.
Type to filter, Enter chooses, Escape closes; text from files is shown, never obeyed."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from .text import one_line


@dataclass(frozen=True)
class Choice:
    """One row of a picker: what it shows, what it searches, and what choosing it returns."""

    label: str
    key: str
    search: str = ""


class PickerScreen(ModalScreen[str | None]):
    """A filterable list; dismisses with the chosen row's key, or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close", id="close_picker")]

    def __init__(self, title: str, choices: list[Choice], hint: str = "type to filter · enter opens") -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="picker"):
            yield Static(Content(one_line(self.title_text, 100)), classes="title")
            yield Input(placeholder="filter", id="picker-filter")
            yield OptionList(*self._options(""), id="picker-list", markup=False)
            yield Static(Content(self.hint), classes="hint")

    def _options(self, query: str) -> list[Option]:
        words = query.lower().split()
        return [Option(Content(one_line(c.label, 200)), id=c.key) for c in self.choices
                if all(w in (c.search or c.label).lower() for w in words)]

    def on_input_changed(self, event: Input.Changed) -> None:
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        if options.option_count:
            options.highlighted = 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if key in ("down", "up") and self.focused is self.query_one("#picker-filter"):
            self.query_one("#picker-list", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
