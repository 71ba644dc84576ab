"""The chat pane: messages, streamed Markdown answers, rounds side by side.

Long sessions stay fast: only the last `BATCH` messages are mounted when a
conversation opens; older ones are mounted a batch at a time as the person scrolls up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.core.types import Message

from .text import one_line, visible

if TYPE_CHECKING:
    from textual.widgets.markdown import MarkdownStream

PURPOSE_LABELS = {"synthesis": "synthesis", "judge": "judge", "stage": "stage", "check": "check"}


class UserView(Static):
    """A message the person sent."""

    def __init__(self, text: str) -> None:
        super().__init__(Content.assemble(("you", "bold"), "\n", visible(text)), classes="user")


class ChatLine(Static):
    """A compact one-line entry: a tool call, a handoff, an error, a notice."""

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(Content(one_line(text, 300)), classes=f"line {kind}")


class AnswerView(Vertical):
    """One model's answer: a label naming the model, then its Markdown.

    A live answer streams into a Markdown widget. A stored (`settled`) one is a single
    Static holding Rich's Markdown renderable: one widget instead of one per block,
    which is what keeps a long session quick to open and to scroll.
    """

    def __init__(
        self, model: str, text: str = "", *, purpose: str = "answer", partial: bool = False, settled: bool = False
    ) -> None:
        super().__init__(classes="answer")
        self.settled = settled
        self.model = model
        self.purpose = purpose
        self.partial = partial
        self._parts: list[str] = [text] if text else []
        self._stream: MarkdownStream | None = None
        self.set_class(partial, "-partial")

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def _label(self) -> Content:
        note = PURPOSE_LABELS.get(self.purpose, "")
        if self.partial:
            note = f"{note} · partial" if note else "partial"
        return Content.assemble((visible(self.model), "bold"), (f" · {note}" if note else "", "italic"))

    def compose(self) -> ComposeResult:
        yield Static(self._label(), classes="label")
        # markdown-it and Rich's Markdown are imported with the first answer, not at start-up.
        if self.settled:
            from rich.markdown import Markdown as RichMarkdown

            yield Static(RichMarkdown(visible(self.text)), classes="body")
        else:
            from textual.widgets import Markdown

            yield Markdown(visible(self.text))

    async def write(self, chunk: str) -> None:
        if self._stream is None:
            from textual.widgets import Markdown

            self._stream = Markdown.get_stream(self.query_one(Markdown))
        self._parts.append(chunk)
        await self._stream.write(visible(chunk))

    async def finish(self, *, partial: bool = False) -> None:
        """Stop streaming; a partial answer keeps its text and says so."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.stop()
        if partial != self.partial:
            self.partial = partial
            self.set_class(partial, "-partial")
            self.query_one(".label", Static).update(self._label())


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
        self._outcome = outcome

    def compose(self) -> ComposeResult:
        yield Static(Content("round" if self.kind == "round" else f"{self.kind} round"), classes="round-title")
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
        await self.mount(view, before=self.query_one(".outcome"))
        return view

    def show_outcome(self, text: str) -> None:
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


Item = Callable[[], list[Widget]]


def conversation_items(messages: Sequence[Message], events: Sequence[dict[str, Any]]) -> list[Item]:
    """Stored messages as display items; a round's lane answers become one RoundView with
    the round record whose `at` is their question's id (a cancelled round has none)."""
    rounds = {e["at"]: e for e in events
              if e.get("type") in ("parallel", "consensus") and isinstance(e.get("at"), str)}
    kinds = {e["at"]: str(e.get("kind")) for e in events if e.get("type") == "round" and isinstance(e.get("at"), str)}
    cancelled = {(e.get("model"), e.get("text")) for e in events
                 if e.get("type") == "turn" and e.get("finish_reason") == "cancelled"}
    # Handoffs the person made leave no message; their records name the message they follow.
    handoffs: dict[str | None, list[dict[str, Any]]] = {}
    for e in events:
        if e.get("type") == "handoff" and e.get("reason") == "user":
            handoffs.setdefault(e.get("at"), []).append(e)
    items: list[Item] = [partial(_handoff_line, record) for record in handoffs.pop(None, [])]
    i = 0
    while i < len(messages):
        message = messages[i]
        if message.lane is None:
            items.append(partial(message_widgets, message))
            if message.partial and (message.model, message.content) in cancelled:
                items.append(partial(_cancelled_line))
            items.extend(partial(_handoff_line, record) for record in handoffs.pop(message.id, []))
            i += 1
            continue
        group: list[Message] = []
        while i < len(messages) and messages[i].lane is not None:
            group.append(messages[i])
            i += 1
        record = rounds.get(group[0].parent or "", {})
        kind = str(record.get("type") or kinds.get(group[0].parent or "", "round"))
        items.append(partial(_round_widgets, group, record, kind))
        if any(m.partial and (m.model, m.content) in cancelled for m in group):
            items.append(partial(_cancelled_line))
        following = messages[i] if i < len(messages) else None
        if (following is not None and following.role == "assistant" and following.lane is None
                and following.parent == group[0].parent and record):
            # The round's outcome message: the synthesis is shown as an answer; the
            # winner's answer or the joined answers are already in the columns.
            if record.get("synthesis") is not None:
                items.append(partial(lambda m: [AnswerView(m.model or "", m.content, purpose="synthesis",
                                                           settled=True)], following))
            items.extend(partial(_handoff_line, r) for r in handoffs.pop(following.id, []))
            i += 1
    return items


def _cancelled_line() -> list[Widget]:
    return [ChatLine("⏹ cancelled: what arrived is kept", "cancelled")]


def _handoff_line(record: dict[str, Any]) -> list[Widget]:
    note = f": {record['instructions']}" if record.get("instructions") else ""
    return [ChatLine(f"⇢ handoff {record.get('from')} → {record.get('to')}{note}", "handoff")]


def _round_widgets(group: list[Message], record: dict[str, Any], kind: str) -> list[Widget]:
    lanes = [m for m in group if m.lane != "judge"]
    judge = next((m for m in group if m.lane == "judge"), None)
    return [RoundView(kind, lanes, judge, round_outcome(record) if record else "")]


class ChatPane(VerticalScroll):
    """The conversation, anchored to the bottom while an answer streams."""

    BATCH = 40

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
        self._backlog: list[Item] = []
        self._loading_earlier = False

    def compose(self) -> ComposeResult:
        widgets = self._widgets(*self._initial)
        self._initial = ((), (), None)
        earlier = Static(self._earlier_text(), id="earlier")
        earlier.display = bool(self._backlog)
        yield earlier
        yield from widgets

    def _widgets(
        self, messages: Sequence[Message], events: Sequence[dict[str, Any]], notice: str | None
    ) -> list[Widget]:
        """Widgets for a notice and the last BATCH items; older items wait in the backlog."""
        items = conversation_items(messages, events)
        self._backlog, recent = items[: -self.BATCH], items[-self.BATCH:]
        widgets: list[Widget] = [Static(Content.from_markup(notice), classes="notice")] if notice else []
        for item in recent:
            widgets.extend(item())
        return widgets

    def on_mount(self) -> None:
        self.anchor()

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
        await self.remove_children([w for w in self.children if w.id != "earlier"])
        widgets = self._widgets(messages, events, notice)
        self._update_earlier()
        if widgets:
            await self.mount_all(widgets)
        self.anchor()

    def _earlier_text(self) -> Content:
        return Content(f"▲ {len(self._backlog)} earlier messages · scroll up to show more")

    def _update_earlier(self) -> None:
        earlier = self.query_one("#earlier", Static)
        earlier.display = bool(self._backlog)
        earlier.update(self._earlier_text())

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 and self._backlog and not self._loading_earlier:
            self._loading_earlier = True
            self.call_later(self.show_earlier)

    async def show_earlier(self) -> None:
        """Mount the next batch of older messages above the ones shown."""
        try:
            batch, self._backlog = self._backlog[-self.BATCH:], self._backlog[: -self.BATCH]
            widgets = [widget for item in batch for widget in item()]
            earlier = self.query_one("#earlier", Static)
            first = next((w for w in self.children if w is not earlier), None)
            self._update_earlier()
            if widgets:
                await self.mount_all(widgets, after=earlier)
            if first is not None:
                self.call_after_refresh(self.scroll_to_widget, first, top=True, animate=False)
        finally:
            self._loading_earlier = False

    async def add_user(self, text: str) -> None:
        await self.mount(UserView(text))

    async def add_answer(self, model: str, purpose: str = "answer") -> AnswerView:
        view = AnswerView(model, purpose=purpose)
        await self.mount(view)
        return view

    async def add_round(self, kind: str) -> RoundView:
        view = RoundView(kind)
        await self.mount(view)
        return view

    async def add_line(self, text: str, kind: str = "info") -> None:
        await self.mount(ChatLine(text, kind))
