"""A model's thinking, streamed into a collapsed block above its answer: the title counts
its tokens; Enter or a click opens it. It never mixes into the answer's text."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Collapsible, Static

from .text import visible

SHOWN_CHARS = 20_000  # what the open block shows of a very long train of thought (its end)


class ReasoningView(Collapsible):
    def __init__(self, model: str) -> None:
        self._body = Static("", classes="reasoning-text", markup=False)
        super().__init__(self._body, title=f"{model} · thinking", collapsed=True, classes="reasoning")
        self.model = model
        self._parts: list[str] = []
        self._chars = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._chars += len(text)
        self.title = f"{visible(self.model)} · thinking · ~{self._chars // 4:,} tok"
        if not self.collapsed:
            self.refresh_text()

    def on_mount(self) -> None:
        # A title set while the block was still being mounted reached the label's value but
        # not what it draws (about one run in ten showed no count): draw it once it is up.
        self.call_after_refresh(self._title.mutate_reactive, type(self._title).label)

    def refresh_text(self) -> None:
        text = "".join(self._parts)
        self._parts = [text]
        self._body.update(Content(visible(text[-SHOWN_CHARS:])))

    def _watch_collapsed(self, collapsed: bool) -> None:
        super()._watch_collapsed(collapsed)
        if not collapsed:
            self.refresh_text()
