"""What the chat pane shows: a person's message, one-line entries, rounds side by side,
and the display items a stored conversation becomes (answers are in answer.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tui.core.types import Message

from .answer import AnswerView, laid_out_size
from .text import dollars, one_line, visible


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
        labels = record.get("labels") or {}
        if labels:
            text += " · " + ", ".join(f"{label}={model}" for label, model in sorted(labels.items()))
        if record.get("swap_agrees") is not None:
            text += " · swapped: " + ("same verdict" if record["swap_agrees"] else "verdict changed")
    elif record.get("synthesis") is not None:
        text = f"synthesis by {record.get('synthesizer')} below"
    else:
        text = "no synthesis: the answers above are the result"
    return f"{text} · {errors}" if errors else text


class Lanes(Horizontal):
    """A round's columns, all as wide as each other, in whole cells (what is left of the
    row, fewer cells than columns, stays empty on the right). Left to `1fr`, a column is
    measured at one width and drawn at the next (19 and 20 of 62 cells), so every piece
    of its answer was wrapped twice; and columns a cell apart wrap the same words to
    heights far apart (a column of 20 cells 15 % taller than one of 21)."""

    virtual_size = laid_out_size()

    def on_resize(self, event: events.Resize) -> None:
        self.share()

    def share(self) -> None:
        lanes = list(self.query_children(AnswerView))
        width = self.size.width
        if not lanes or width <= 0:
            return
        room = width - len(lanes)  # each column's right margin
        each = max(1, room // len(lanes))
        for lane in lanes:
            lane.styles.width = each


class RoundView(Vertical):
    """A parallel or consensus round: one column per model, then the outcome."""

    virtual_size = laid_out_size()

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
        yield Static(Content("round" if self.kind == "round" else f"{self.kind} round"), classes="round-title")
        with Lanes(classes="lanes"):
            yield from self.lanes.values()
        if self._judge is not None:
            yield AnswerView(self._judge.model or "judge", self._judge.content, purpose="judge", settled=True)
        yield Static(Content(one_line(self._outcome, 400)), classes="outcome" + (" -shown" if self._outcome else ""))

    async def lane(self, lane: str) -> AnswerView:
        view = self.lanes.get(lane)
        if view is None:
            view = self.lanes[lane] = AnswerView(lane)
            lanes = self.query_one(Lanes)
            await lanes.mount(view)
            lanes.share()
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


Alternative = Callable[[str], "tuple[int, int] | None"]  # by id: an answer's place among its question's


def message_widgets(message: Message, alternative: Alternative | None = None) -> list[Widget]:
    """The widgets that show one stored message of the main conversation."""
    if message.role == "user":
        return [UserView(message.content)]
    if message.role != "assistant":
        return []
    author = message.model or "assistant"
    widgets: list[Widget] = []
    if message.content or not message.tool_calls:
        place = alternative(message.id) if alternative is not None else None
        widgets.append(AnswerView(author, message.content, partial=message.partial, settled=True, alternative=place))
    for call in message.tool_calls:
        if call.name.startswith("transfer_to_"):
            target = call.name.removeprefix("transfer_to_")
            note = call.arguments.get("instructions", "")
            note_text = f": {note}" if note else ""
            widgets.append(ChatLine(f"⇢ handoff {author} → {target} (tool){note_text}", "handoff"))
        else:
            widgets.append(ChatLine(f"⚙ {author} called {call.name} {call.arguments}", "tool"))
    return widgets


class Item:
    """One entry of the conversation as shown: how to build its widgets, its text for
    search, and its widgets while they are mounted. A message the person can select has
    a `kind` ("user", "answer" or "round") and a `ref`: the message's id (a round's: its
    question's), known once the message is in the conversation."""

    __slots__ = ("kind", "make", "ref", "search", "widgets")

    def __init__(
        self, make: Callable[[], list[Widget]], search: Callable[[], str], kind: str | None = None,
        ref: str | None = None,
    ) -> None:
        self.make = make
        self.search = search
        self.kind = kind
        self.ref = ref
        self.widgets: list[Widget] | None = None

    @classmethod
    def live(cls, widget: Widget) -> Item:
        """An item for a widget added while the app runs: rebuilt from its copy."""
        kind = ("user" if isinstance(widget, UserView) else "round" if isinstance(widget, RoundView)
                else "answer" if isinstance(widget, AnswerView) and widget.purpose in ("answer", "synthesis")
                else None)
        current = [widget]

        def make() -> list[Widget]:
            current[0] = current[0].copy()  # type: ignore[attr-defined]
            return [current[0]]

        item = cls(make, lambda: str(getattr(current[0], "text", "")), kind)
        item.widgets = [widget]
        return item

    @property
    def pinned(self) -> bool:
        """Its widgets are still streaming: never unmount them."""
        return any(getattr(w, "live", False) for w in self.widgets or ())


def _message_text(message: Message) -> str:
    return f"{message.model or ''}\n{message.content}"


def conversation_items(
    messages: Sequence[Message], events: Sequence[dict[str, Any]], alternative: Alternative | None = None
) -> list[Item]:
    """Stored messages as display items; a round's lane answers become one RoundView with
    the round record whose `at` is their question's id (a cancelled round has none). A
    blind compare not voted on yet shows its answers as A and B, no names."""
    rounds = {e["at"]: e for e in events
              if e.get("type") in ("parallel", "consensus") and isinstance(e.get("at"), str)}
    kinds = {e["at"]: str(e.get("kind")) for e in events if e.get("type") == "round" and isinstance(e.get("at"), str)}
    voted = {e.get("at") for e in events if e.get("type") == "vote" and e.get("kind") == "compare"}
    cancelled = {(e.get("model"), e.get("text")) for e in events
                 if e.get("type") == "turn" and e.get("finish_reason") == "cancelled"}
    turns = {(e.get("model"), e.get("text")): e for e in events
             if e.get("type") == "turn" and not e.get("partial") and e.get("lane") is None
             and e.get("finish_reason") != "tool_calls"}
    # Handoffs the person made leave no message; their records name the message they follow.
    handoffs: dict[str | None, list[dict[str, Any]]] = {}
    for e in events:
        if e.get("type") == "handoff" and e.get("reason") == "user":
            handoffs.setdefault(e.get("at"), []).append(e)

    def handoff_items(after: str | None) -> list[Item]:
        return [Item(partial(_handoff_line, r), partial(_handoff_text, r)) for r in handoffs.pop(after, [])]

    items: list[Item] = handoff_items(None)
    i = 0
    while i < len(messages):
        message = messages[i]
        if message.lane is None:
            if message.role in ("user", "assistant"):
                items.append(Item(partial(message_widgets, message, alternative), partial(_message_text, message),
                                  "user" if message.role == "user" else "answer" if message.content else None,
                                  message.id))
                turn = turns.get((message.model, message.content)) if message.role == "assistant" else None
                if turn is not None and message.content:
                    items.append(Item(partial(_stats_line, turn), partial(answer_stats, turn)))
                if message.partial and (message.model, message.content) in cancelled:
                    items.append(Item(_cancelled_line, partial(str, CANCELLED)))
            items.extend(handoff_items(message.id))
            i += 1
            continue
        group: list[Message] = []
        while i < len(messages) and messages[i].lane is not None:
            group.append(messages[i])
            i += 1
        question = group[0].parent or ""
        record = rounds.get(question, {})
        kind = str(record.get("type") or kinds.get(question, "round"))
        outcome = round_outcome(record) if record else ""
        if kind == "compare" and question not in voted:
            group = [dataclasses.replace(m, model=m.lane) for m in group]
            outcome = VOTE_PROMPT
        texts = [_message_text(m) for m in group]
        items.append(Item(partial(_round_widgets, group, kind, outcome), partial("\n".join, texts), "round", question))
        if any(m.partial and (m.model, m.content) in cancelled for m in group):
            items.append(Item(_cancelled_line, partial(str, CANCELLED)))
        following = messages[i] if i < len(messages) else None
        if (following is not None and following.role == "assistant" and following.lane is None
                and following.parent == question and record):
            # The round's outcome message: the synthesis is shown as an answer; the
            # winner's answer or the joined answers are already in the columns.
            if record.get("synthesis") is not None:
                items.append(Item(partial(_synthesis, following, alternative), partial(_message_text, following),
                                  "answer", following.id))
                turn = turns.get((following.model, following.content))
                if turn is not None:
                    items.append(Item(partial(_stats_line, turn), partial(answer_stats, turn)))
            items.extend(handoff_items(following.id))
            i += 1
    return items


CANCELLED = "⏹ cancelled: what arrived is kept"
VOTE_PROMPT = "A or B? /vote A, /vote B or /vote tie; the names show after the vote"


def _cancelled_line() -> list[Widget]:
    return [ChatLine(CANCELLED, "cancelled")]


def _synthesis(message: Message, alternative: Alternative | None) -> list[Widget]:
    place = alternative(message.id) if alternative is not None else None
    return [AnswerView(message.model or "", message.content, purpose="synthesis", settled=True, alternative=place)]


def _handoff_text(record: dict[str, Any]) -> str:
    note = f": {record['instructions']}" if record.get("instructions") else ""
    return f"⇢ handoff {record.get('from')} → {record.get('to')}{note}"


def _handoff_line(record: dict[str, Any]) -> list[Widget]:
    return [ChatLine(_handoff_text(record), "handoff")]


def _round_widgets(group: list[Message], kind: str, outcome: str) -> list[Widget]:
    lanes = [m for m in group if m.lane != "judge"]
    judge = next((m for m in group if m.lane == "judge"), None)
    return [RoundView(kind, lanes, judge, outcome)]


def answer_stats(record: dict[str, Any]) -> str:
    """The quiet line under an answer: tokens in and out, time, speed, cost when known."""
    usage = record.get("usage") or {}
    tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    latency = float(record.get("latency_s") or 0.0)
    parts = [f"{tokens_in:,} in · {tokens_out:,} out", f"{latency:.1f}s"]
    if latency > 0 and tokens_out:
        parts.append(f"{tokens_out / latency:.0f} tok/s")
    cost = record.get("cost_usd")
    parts.append(dollars(cost) if isinstance(cost, (int, float)) else "cost unknown")
    return " · ".join(parts)


def _stats_line(record: dict[str, Any]) -> list[Widget]:
    return [ChatLine(answer_stats(record), "stats")]
