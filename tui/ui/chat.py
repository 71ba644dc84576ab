"""The chat pane: messages, streamed Markdown answers, rounds side by side.

Long sessions stay fast: only the last `BATCH` messages are mounted when a
conversation opens; older ones are mounted a batch at a time as the person scrolls up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.core.types import Message

from .answer import PURPOSE_LABELS, AnswerView
from .text import one_line, visible

__all__ = ["PURPOSE_LABELS", "AnswerView", "ChatLine", "ChatPane", "RoundView", "UserView", "round_outcome"]


class UserView(Static):
    """A message the person sent."""

    def __init__(self, text: str) -> None:
        super().__init__(Content.assemble(("you", "bold"), "\n", visible(text)), classes="user")
        self.text = text

    def copy(self) -> UserView:
        return UserView(self.text)


class ChatLine(Static):
    """A compact one-line entry: a tool call, a handoff, an error, a notice."""

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(Content(one_line(text, 300)), classes=f"line {kind}")
        self.text = text
        self.kind = kind

    def copy(self) -> ChatLine:
        return ChatLine(self.text, self.kind)


def round_outcome(record: dict[str, Any]) -> str:
    """One line for a parallel or consensus record: winner and ranking, or synthesis."""
    errors = "; ".join(f"{m} failed: {e}" for m, e in (record.get("errors") or {}).items())
    if record.get("type") == "consensus":
        ranking = " > ".join(record.get("ranking", []))
        text = f"🏆 winner {record.get('winner')} · ranking {ranking} · judge {record.get('judge')}"
    elif record.get("synthesis") is not None:
        text = f"synthesis by {record.get('synthesizer')} below"
    else:
        text = "no synthesis: the answers above are the result"
    return f"{text} · {errors}" if errors else text


class RoundView(Vertical):
    """A parallel or consensus round: one column per model, then the outcome."""

    def __init__(
        self,
        kind: str,
        lanes: Sequence[Message] = (),
        judge: Message | None = None,
        outcome: str = "",
    ) -> None:
        super().__init__(classes=f"round {kind}")
        self.kind = kind
        self.lanes: dict[str, AnswerView] = {
            m.lane or "": AnswerView(m.model or "", m.content, partial=m.partial, settled=True) for m in lanes
        }
        self._judge = judge
        self._extras: list[AnswerView] = []
        self._outcome = outcome

    @property
    def live(self) -> bool:
        return any(view.live for view in [*self.lanes.values(), *self._extras])

    @property
    def text(self) -> str:
        """Everything the round shows, for search."""
        parts = [f"{v.model}\n{v.text}" for v in self.lanes.values()]
        if self._judge is not None:
            parts.append(self._judge.content)
        parts.extend(v.text for v in self._extras)
        return "\n".join([*parts, self._outcome])

    def copy(self) -> RoundView:
        lanes = [Message("assistant", v.text, v.model, partial=v.partial, lane=lane) for lane, v in self.lanes.items()]
        extra = self._extras[0] if self._extras else None
        judge = self._judge or (Message("assistant", extra.text, extra.model, lane="judge") if extra else None)
        return RoundView(self.kind, lanes, judge, self._outcome)

    def compose(self) -> ComposeResult:
        yield Static(Content(f"{self.kind} round"), classes="round-title")
        with Horizontal(classes="lanes"):
            yield from self.lanes.values()
        if self._judge is not None:
            yield AnswerView(self._judge.model or "judge", self._judge.content, purpose="judge", settled=True)
        yield Static(Content(one_line(self._outcome, 400)), classes="outcome" + (" -shown" if self._outcome else ""))

    async def lane(self, lane: str) -> AnswerView:
        view = self.lanes.get(lane)
        if view is None:
            view = self.lanes[lane] = AnswerView(lane)
            await self.query_one(".lanes").mount(view)
        return view

    async def add_answer(self, model: str, purpose: str) -> AnswerView:
        """An answer about the round (the judge's), below the columns."""
        view = AnswerView(model, purpose=purpose)
        self._extras.append(view)
        await self.mount(view, before=self.query_one(".outcome"))
        return view

    def show_outcome(self, text: str) -> None:
        self._outcome = text
        outcome = self.query_one(".outcome", Static)
        outcome.update(Content(one_line(text, 400)))
        outcome.add_class("-shown")


def message_widgets(message: Message) -> list[Widget]:
    """The widgets that show one stored message of the main conversation."""
    if message.role == "user":
        return [UserView(message.content)]
    if message.role != "assistant":
        return []
    author = message.model or "assistant"
    widgets: list[Widget] = []
    if message.content or not message.tool_calls:
        widgets.append(AnswerView(author, message.content, partial=message.partial, settled=True))
    for call in message.tool_calls:
        if call.name.startswith("transfer_to_"):
            target = call.name.removeprefix("transfer_to_")
            note = call.arguments.get("instructions", "")
            widgets.append(ChatLine(f"⇢ handoff {author} → {target} (tool){': ' + str(note) if note else ''}", "handoff"))
        else:
            widgets.append(ChatLine(f"⚙ {author} called {call.name} {call.arguments}", "tool"))
    return widgets


class Item:
    """One entry of the conversation as shown: how to build its widgets, its text for
    search, and its widgets while they are mounted."""

    __slots__ = ("make", "search", "widgets")

    def __init__(self, make: Callable[[], list[Widget]], search: Callable[[], str]) -> None:
        self.make = make
        self.search = search
        self.widgets: list[Widget] | None = None

    @classmethod
    def live(cls, widget: Widget) -> Item:
        """An item for a widget added while the app runs: rebuilt from its copy."""
        item = cls(lambda: [widget.copy()], lambda: str(getattr(widget, "text", "")))  # type: ignore[attr-defined]
        item.widgets = [widget]
        return item

    @property
    def pinned(self) -> bool:
        """Its widgets are still streaming: never unmount them."""
        return any(getattr(w, "live", False) for w in self.widgets or ())


def _message_text(message: Message) -> str:
    return f"{message.model or ''}\n{message.content}"


def conversation_items(messages: Sequence[Message], events: Sequence[dict[str, Any]]) -> list[Item]:
    """Stored messages as display items; a round's lane answers become one RoundView,
    matched in order with the round records of the timeline."""
    rounds = [e for e in events if e.get("type") in ("parallel", "consensus") and e.get("answers")]
    # Handoffs the person made leave no message; their records say where they happened.
    handoffs: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        if e.get("type") == "handoff" and e.get("reason") == "user" and isinstance(e.get("at"), int):
            handoffs.setdefault(e["at"], []).append(e)
    items: list[Item] = []
    i = 0
    while i <= len(messages):
        for at in sorted(k for k in handoffs if k <= i):
            items.extend(Item(partial(_handoff_line, r), partial(_handoff_text, r)) for r in handoffs.pop(at))
        if i == len(messages):
            break
        message = messages[i]
        if message.lane is None:
            if message.role in ("user", "assistant"):
                items.append(Item(partial(message_widgets, message), partial(_message_text, message)))
            i += 1
            continue
        group: list[Message] = []
        while i < len(messages) and messages[i].lane is not None:
            group.append(messages[i])
            i += 1
        record = rounds.pop(0) if rounds else {}
        following = messages[i] if i < len(messages) else None
        texts = [_message_text(m) for m in group]
        items.append(Item(partial(_round_widgets, group, record), partial("\n".join, texts)))
        if following is not None and following.role == "assistant" and following.lane is None and record:
            # The round's outcome message: the synthesis is shown as an answer; the
            # winner's answer or the joined answers are already in the columns.
            if record.get("synthesis") is not None:
                items.append(Item(partial(_synthesis, following), partial(_message_text, following)))
            i += 1
    return items


def _synthesis(message: Message) -> list[Widget]:
    return [AnswerView(message.model or "", message.content, purpose="synthesis", settled=True)]


def _handoff_text(record: dict[str, Any]) -> str:
    note = f": {record['instructions']}" if record.get("instructions") else ""
    return f"⇢ handoff {record.get('from')} → {record.get('to')}{note}"


def _handoff_line(record: dict[str, Any]) -> list[Widget]:
    return [ChatLine(_handoff_text(record), "handoff")]


def _round_widgets(group: list[Message], record: dict[str, Any]) -> list[Widget]:
    lanes = [m for m in group if m.lane != "judge"]
    judge = next((m for m in group if m.lane == "judge"), None)
    kind = str(record.get("type", "round"))
    return [RoundView(kind, lanes, judge, round_outcome(record) if record else "")]


class ChatPane(VerticalScroll):
    """The conversation, anchored to the bottom while an answer streams.

    Only a window of items is mounted, whatever the session's length: the last `BATCH`
    when a conversation opens, a batch more as the person scrolls past either end, at
    most `WINDOW` at once (items far from the view are unmounted and rebuilt when they
    come back). Home and End jump to either end; `find` jumps to a match.
    """

    BATCH = 25
    WINDOW = 100

    def __init__(
        self,
        messages: Sequence[Message] = (),
        events: Sequence[dict[str, Any]] = (),
        notice: str | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._initial = (messages, events, notice)
        self._items: list[Item] = []
        self._lo = self._hi = 0  # the mounted window of items
        self._moving = False
        self._found: int | None = None
        self._found_widget: Widget | None = None

    def compose(self) -> ComposeResult:
        messages, events, notice = self._initial
        self._initial = ((), (), None)
        self._items = conversation_items(messages, events)
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
            widgets.extend(item.widgets)
        return widgets

    def _settle_scroll(self, then: Callable[[], None]) -> None:
        """Run `then` once the new layout is in place; scroll loads wait until it has."""

        def moved() -> None:
            self._moving = False
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
        if self._moving or not self.is_mounted:
            return
        new_value = self.scroll_y
        if new_value <= 0 and self._lo > 0:
            self._moving = True
            self.call_later(self.show_earlier)
        elif new_value >= self.max_scroll_y > 0 and self._hi < len(self._items):
            self._moving = True
            self.call_later(self._show_later)

    def _first_widget(self, index: int) -> Widget | None:
        item = self._items[index] if 0 <= index < len(self._items) else None
        return item.widgets[0] if item is not None and item.widgets else None

    async def show_earlier(self) -> None:
        """Mount the next batch of older messages above the ones shown."""
        self._moving = True
        first = self._first_widget(self._lo)
        offset = self._offset(first)
        lo = max(0, self._lo - self.BATCH)
        await self._set_window(lo, min(self._hi, lo + self.WINDOW))
        self._keep_in_view(first, offset)

    async def _show_later(self) -> None:
        self._moving = True
        last = self._first_widget(self._hi - 1)
        offset = self._offset(last)
        hi = min(len(self._items), self._hi + self.BATCH)
        await self._set_window(max(self._lo, hi - self.WINDOW), hi)
        self._keep_in_view(last, offset)

    async def show_start(self) -> None:
        """Jump to the first message."""
        self._moving = True
        self.release_anchor()
        await self._set_window(0, self.BATCH)
        self.scroll_home(animate=False, immediate=True)
        self._settle_scroll(lambda: self.scroll_home(animate=False, immediate=True))

    async def show_end(self) -> None:
        """Jump to the last message and follow what arrives."""
        self._moving = True
        if self._hi < len(self._items) or self._hi - self._lo > self.BATCH:
            await self._set_window(len(self._items) - self.BATCH, len(self._items))
        self.anchor()
        self._settle_scroll(lambda: self.scroll_end(animate=False, immediate=True))

    async def action_scroll_home(self) -> None:
        await self.show_start()

    async def action_scroll_end(self) -> None:
        await self.show_end()

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
        self._moving = True
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
        current = self.query(".notice").first() if self.query(".notice") else None
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
        self._items = conversation_items(messages, events)
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
