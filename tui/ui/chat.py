"""The chat pane: the conversation, a window of it mounted, search.

Long sessions stay fast: only a window of items is mounted (the last `BATCH` when a
conversation opens), moving a batch at a time as the person scrolls past either end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.core.types import Message

from . import select
from .answer import PURPOSE_LABELS, AnswerView, laid_out_size
from .views import (
    Alternative,
    ChatLine,
    Item,
    RoundView,
    UserView,
    conversation_items,
    message_widgets,
    round_outcome,
)

if TYPE_CHECKING:
    from .find import FindBar

__all__ = [
    "PURPOSE_LABELS",
    "AnswerView",
    "ChatLine",
    "ChatPane",
    "Item",
    "RoundView",
    "UserView",
    "conversation_items",
    "message_widgets",
    "round_outcome",
]


class ChatPane(VerticalScroll):
    """The conversation, anchored to the bottom while an answer streams.

    Only a window of items is mounted, whatever the session's length: the last `BATCH`
    when a conversation opens, a batch more as the person scrolls past either end, at
    most `WINDOW` at once (items far from the view are unmounted and rebuilt when they
    come back). Home and End jump to either end; `find` jumps to a match.

    Any message can be selected (`select`): the selection moves through the whole
    conversation, mounting what it reaches, and keys act on it (see select.py).
    """

    virtual_size = laid_out_size()

    BATCH = 25
    WINDOW = 100
    BINDINGS = select.BINDINGS

    def __init__(
        self,
        messages: Sequence[Message] = (),
        events: Sequence[dict[str, Any]] = (),
        notice: str | None = None,
        *,
        alternative: Alternative | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._initial = (messages, events, notice)
        self.alternative = alternative  # an answer's place among its question's answers, by id
        self.selected: int | None = None  # the index of the selected item
        self.code_turn = 0  # the next code block `b` copies from the selected message
        self._items: list[Item] = []
        self._lo = self._hi = 0  # the mounted window of items
        self._moving = 0.0
        self._found: int | None = None
        self._found_widget: Widget | None = None

    def compose(self) -> ComposeResult:
        messages, events, notice = self._initial
        self._initial = ((), (), None)
        self._items = conversation_items(messages, events, self.alternative)
        self._lo, self._hi = max(0, len(self._items) - self.BATCH), len(self._items)
        yield self._mark("earlier")
        if notice:
            yield Static(Content.from_markup(notice), classes="notice")
        for item in self._items[self._lo :]:
            item.widgets = item.make()
            yield from item.widgets
        yield self._mark("later")

    def _mark(self, which: str) -> Static:
        mark = Static(self._mark_text(which), id=which)
        mark.display = self._lo > 0 if which == "earlier" else self._hi < len(self._items)
        return mark

    def _mark_text(self, which: str) -> Content:
        if which == "earlier":
            return Content(f"▲ {self._lo} earlier messages · scroll up to show more, home for the first")
        return Content(f"▼ {len(self._items) - self._hi} later messages · scroll down to show more, end for the last")

    def _update_marks(self) -> None:
        for which in ("earlier", "later"):
            mark = self.query_one(f"#{which}", Static)
            mark.display = self._lo > 0 if which == "earlier" else self._hi < len(self._items)
            mark.update(self._mark_text(which))

    def on_mount(self) -> None:
        self.anchor()

    # ------------------------------------------------------------------ the window

    async def _set_window(self, lo: int, hi: int) -> None:
        """Mount items [lo, hi) and unmount the rest (never a still-streaming one)."""
        items = self._items
        lo, hi = max(0, lo), min(len(items), hi)
        for i in range(self._hi - 1, max(self._lo, hi) - 1, -1):
            if items[i].pinned:
                hi = i + 1
                break
        doomed: list[Widget] = []
        for i in range(self._lo, self._hi):
            if not lo <= i < hi and items[i].widgets is not None:
                doomed.extend(items[i].widgets or ())
                items[i].widgets = None
        if doomed:
            await self.remove_children(doomed)
        keep_lo, keep_hi = max(lo, self._lo), min(hi, self._hi)
        first_kept = next((w for i in range(keep_lo, keep_hi) for w in items[i].widgets or ()), None)
        above = range(lo, keep_lo) if first_kept is not None else range(0)
        below = range(keep_hi, hi) if first_kept is not None else range(lo, hi)
        self._lo, self._hi = lo, hi
        new_above = self._build(above)
        new_below = self._build(below)
        if new_above and first_kept is not None:
            await self.mount_all(new_above, before=first_kept)
        if new_below:
            await self.mount_all(new_below, before=self.query_one("#later"))
        self._update_marks()

    def _build(self, indexes: range) -> list[Widget]:
        widgets: list[Widget] = []
        for i in indexes:
            item = self._items[i]
            item.widgets = item.make()
            if i == self.selected and item.widgets:
                item.widgets[0].add_class("-selected")
            widgets.extend(item.widgets)
        return widgets

    def _settle_scroll(self, then: Callable[[], object]) -> None:
        """Run `then` once the new layout is in place; scroll loads wait until it has."""

        def moved() -> None:
            self._moving = 0.0
            self._check_edges()

        def done() -> None:
            then()
            self.call_after_refresh(moved)

        self.call_after_refresh(done)

    def _offset(self, widget: Widget | None) -> float:
        return widget.virtual_region.y - self.scroll_y if widget is not None else 0.0

    def _keep_in_view(self, widget: Widget | None, offset: float) -> None:
        """Keep `widget` at `offset` from the top of the view (where it was before items
        above it came or went)."""
        if widget is None:
            self._settle_scroll(lambda: None)
            return
        self._settle_scroll(lambda: self.scroll_to(y=widget.virtual_region.y - offset, animate=False, immediate=True))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_edges()

    def _check_edges(self) -> None:
        """At either end of what is mounted, with more beyond it: mount the next batch."""
        # A settle queued under a modal closed before it painted is dropped: give up after 3 s.
        if time.monotonic() - self._moving < 3.0 or not self.is_mounted:
            return
        new_value = self.scroll_y
        if new_value <= 0 and self._lo > 0:
            self._moving = time.monotonic()
            self.call_later(self.show_earlier)
        elif new_value >= self.max_scroll_y > 0 and self._hi < len(self._items):
            self._moving = time.monotonic()
            self.call_later(self._show_later)

    def _first_widget(self, index: int) -> Widget | None:
        item = self._items[index] if 0 <= index < len(self._items) else None
        return item.widgets[0] if item is not None and item.widgets else None

    async def show_earlier(self) -> None:
        """Mount the next batch of older messages above the ones shown."""
        self._moving = time.monotonic()
        first = self._first_widget(self._lo)
        offset = self._offset(first)
        lo = max(0, self._lo - self.BATCH)
        await self._set_window(lo, min(self._hi, lo + self.WINDOW))
        self._keep_in_view(first, offset)

    async def _show_later(self) -> None:
        self._moving = time.monotonic()
        last = self._first_widget(self._hi - 1)
        offset = self._offset(last)
        hi = min(len(self._items), self._hi + self.BATCH)
        await self._set_window(max(self._lo, hi - self.WINDOW), hi)
        self._keep_in_view(last, offset)

    async def show_start(self) -> None:
        """Jump to the first message."""
        self._moving = time.monotonic()
        self.release_anchor()
        await self._set_window(0, self.BATCH)
        self.scroll_home(animate=False, immediate=True)
        self._settle_scroll(lambda: self.scroll_home(animate=False, immediate=True))

    async def show_end(self) -> None:
        """Jump to the last message and follow what arrives."""
        self._moving = time.monotonic()
        if self._hi < len(self._items) or self._hi - self._lo > self.BATCH:
            await self._set_window(len(self._items) - self.BATCH, len(self._items))
        self.anchor()
        self._settle_scroll(lambda: self.scroll_end(animate=False, immediate=True))

    def action_scroll_home(self) -> None:
        self.call_later(self.show_start)

    def action_scroll_end(self) -> None:
        self.call_later(self.show_end)

    # ------------------------------------------------------------------ search

    def find(self, text: str, *, backward: bool = True) -> bool:
        """Jump to the next item containing `text` (case-insensitive): older first,
        starting from the latest, then from the last match on; wraps around."""
        needle = text.casefold()
        count = len(self._items)
        if not needle or not count:
            return False
        step = -1 if backward else 1
        start = self._found if self._found is not None else (count if backward else -1)
        for k in range(1, count + 1):
            i = (start + step * k) % count
            if needle in self._items[i].search().casefold():
                self._found = i
                self.call_later(self._reveal, i)
                return True
        return False

    async def _reveal(self, index: int) -> None:
        self._moving = time.monotonic()
        self.release_anchor()
        if not self._lo <= index < self._hi or self._first_widget(index) is None:
            lo = max(0, index - self.BATCH // 2)
            await self._set_window(lo, lo + self.BATCH)
        if self._found_widget is not None:
            self._found_widget.remove_class("-found")
        widget = self._found_widget = self._first_widget(index)
        if widget is not None:
            widget.add_class("-found")
            self._settle_scroll(lambda: self.scroll_to_widget(widget, top=True, animate=False, immediate=True))
        else:
            self._settle_scroll(lambda: None)

    def on_find_bar_search(self, event: FindBar.Search) -> None:
        event.stop()
        event.bar.found(self.find(event.text))

    async def open_find(self) -> None:
        """Show the search input above the conversation and focus it (the app binds a
        key to this; enter in it calls `find`, escape closes it)."""
        from .find import FindBar

        bars = self.query(FindBar)
        bar = bars.first() if bars else None
        if bar is None:
            bar = FindBar()
            await self.mount(bar, before=0)
        bar.open(self.app.focused)

    # ------------------------------------------------------------------ content

    async def set_notice(self, notice: str | None) -> None:
        """Show `notice` (Textual markup) above the conversation, or remove it."""
        current = self.query(".notice").first(Static) if self.query(".notice") else None
        if notice is None:
            if current is not None:
                await current.remove()
        elif current is not None:
            current.update(Content.from_markup(notice))
        else:
            await self.mount(Static(Content.from_markup(notice), classes="notice"), after="#earlier")

    async def show_conversation(
        self,
        messages: Sequence[Message],
        events: Sequence[dict[str, Any]] = (),
        notice: str | None = None,
    ) -> None:
        """Replace what is shown: a notice, then the last BATCH items of the conversation."""
        doomed = [w for item in self._items for w in item.widgets or ()]
        doomed.extend(self.query(".notice"))
        await self.remove_children(doomed)
        self.selected = None
        self.refresh_bindings()
        self._items = conversation_items(messages, events, self.alternative)
        self._lo = self._hi = len(self._items)
        self._found = self._found_widget = None
        if notice:
            await self.mount(Static(Content.from_markup(notice), classes="notice"), after="#earlier")
        await self._set_window(len(self._items) - self.BATCH, len(self._items))
        self.anchor()

    async def _append(self, widget: Widget) -> None:
        if self._hi < len(self._items):
            await self.show_end()
        self._items.append(Item.live(widget))
        self._hi = len(self._items)
        await self.mount(widget, before=self.query_one("#later"))
        if self._hi - self._lo > self.WINDOW + self.BATCH and self.is_anchored and not self._anchor_released:
            await self._set_window(self._hi - self.WINDOW, self._hi)

    async def add_user(self, text: str) -> None:
        await self._append(UserView(text))

    async def add_answer(self, model: str, purpose: str = "answer") -> AnswerView:
        view = AnswerView(model, purpose=purpose)
        await self._append(view)
        return view

    async def add_round(self, kind: str) -> RoundView:
        view = RoundView(kind)
        await self._append(view)
        return view

    async def add_line(self, text: str, kind: str = "info") -> None:
        await self._append(ChatLine(text, kind))

    # ------------------------------------------------------------------ selection

    @property
    def items(self) -> list[Item]:
        return self._items

    def selected_item(self) -> Item | None:
        return self._items[self.selected] if self.selected is not None else None

    def selected_widget(self) -> Widget | None:
        return self._first_widget(self.selected) if self.selected is not None else None

    def next_selectable(self, start: int | None, step: int) -> int | None:
        """The nearest item the person can select from `start` on (the last one from None)."""
        i = len(self._items) if start is None else start
        while 0 <= i + step < len(self._items):
            i += step
            if self._items[i].kind is not None:
                return i
        return None

    async def select(self, index: int | None) -> None:
        """Highlight item `index` (mounting it if it is outside the window) and scroll it
        into view; None clears the selection."""
        old = self.selected_widget()
        if old is not None:
            old.remove_class("-selected")
        self.selected, self.code_turn = index, 0
        self.refresh_bindings()
        if index is None:
            return
        self.release_anchor()
        if not self._lo <= index < self._hi:
            self._moving = time.monotonic()
            if index < self._lo:
                lo = max(0, min(self._lo - self.BATCH, index))
                await self._set_window(lo, min(self._hi, lo + self.WINDOW))
            else:
                hi = min(len(self._items), max(self._hi + self.BATCH, index + 1))
                await self._set_window(max(self._lo, hi - self.WINDOW), hi)
        widget = self.selected_widget()
        if widget is None:
            self._settle_scroll(lambda: None)
            return
        widget.add_class("-selected")
        self._settle_scroll(lambda: self.scroll_to_widget(widget, animate=False, immediate=True))

    def bind(self, message: Message) -> None:
        """`message` is now in the conversation: the latest item showing it, not bound yet,
        takes its id (a round's item, its question's); answers say their place again."""
        kind = ("user" if message.role == "user" else None if message.role != "assistant"
                else "answer" if message.lane is None else None if message.lane == "judge" else "round")
        for item in reversed(self._items):
            if item.kind != kind or item.ref is not None or not item.widgets:
                continue
            if kind == "round":
                item.ref = message.parent
            elif item.search() == message.content:
                item.ref = message.id
            else:
                continue
            break
        if kind == "answer":
            self.relabel()

    def relabel(self) -> None:
        """Each mounted answer shows its place among its question's answers ("2/3")."""
        if self.alternative is None:
            return
        for item in self._items[self._lo : self._hi]:
            widget = item.widgets[0] if item.widgets else None
            if item.kind == "answer" and item.ref is not None and isinstance(widget, AnswerView):
                widget.show_alternative(self.alternative(item.ref))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            return select.applies(self, *parameters)
        return True

    async def action_act(self, name: str, argument: object = None) -> None:
        await select.act(self, name, argument)

    async def on_key(self, event: events.Key) -> None:
        """A printable key no selection key takes goes back to the composer, typed there
        (and so do keys typed on while the selection was leaving)."""
        if not event.is_printable or not event.character:
            return
        if self.selected is not None and select.takes(self, event.key):
            return
        if self.selected is None and self.app.focused is self:
            return
        event.stop()
        event.prevent_default()
        await select.leave(self, event.character)

    def on_blur(self) -> None:
        focused = self.screen.focused
        if self.selected is not None and focused is not None and focused is not self and self.app.screen is self.screen:
            self.call_later(self.select, None)
