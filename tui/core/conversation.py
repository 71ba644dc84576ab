"""The shared conversation: a tree of messages, the timeline, and who is answering.

`Conversation.apply(event)` is the only code that changes one. Every message has an `id`
and a `parent`; the active leaf says which branch the conversation goes on from. The
branch from the root to the leaf is what models see (`path()`); round answers hang off
their question as siblings of the round's outcome and are shown with it (`messages`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .events import (
    BranchSelected,
    ConsensusEvent,
    Event,
    HandoffEvent,
    MessageAdded,
    ModelSelected,
    ParallelEvent,
    RunCancelled,
    RunFailed,
    RunFinished,
    TextDelta,
    TimelineEvent,
    TurnEvent,
    TurnStarted,
)
from .types import Message, new_id

T = TypeVar("T")


@dataclass
class Streaming:
    """Text a model is still streaming in one lane."""

    model: str
    purpose: str = "answer"
    chunks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


class Conversation:
    def __init__(
        self,
        messages: Iterable[Message] = (),
        events: Iterable[TimelineEvent | dict[str, Any]] = (),
        active_model: str | None = None,
        title: str = "",
        *,
        leaf: str | None = None,
    ) -> None:
        self.nodes: dict[str, Message] = {}
        self.children: dict[str | None, list[str]] = {}
        self.leaf: str | None = None
        self.events: list[TimelineEvent] = [
            e if isinstance(e, TimelineEvent) else TimelineEvent.from_record(e) for e in events
        ]
        self.active_model = active_model
        self.title = title
        self.streaming: dict[str | None, Streaming] = {}
        # Parts of a session file that did not fit and were left out, one line each.
        self.skipped: list[str] = []
        self.problems: list[Any] = []
        # Goes up with every change but streamed text: what `memo` keys its answers on.
        self.revision = 0
        self._memo: dict[str, tuple[int, Any]] = {}
        flat = False
        for message in messages:
            flat = flat or not message.id
            self._add(_linked(message, self))
        if flat:
            self.events = _flat_links(self, self.events)
        if leaf is not None and leaf in self.nodes:
            self.leaf = leaf
        self.revision += 1  # whatever was worked out while the messages were linked

    # ------------------------------------------------------------------ reading

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()`, worked out again only after the conversation has changed: for what
        the screen asks on every frame of a long session (treat the answer as read-only)."""
        kept = self._memo.get(key)
        if kept is not None and kept[0] == self.revision:
            return kept[1]  # type: ignore[no-any-return]
        value = compute()
        self._memo[key] = (self.revision, value)
        return value

    def path(self, leaf: str | None = None) -> list[Message]:
        """The branch from the root to `leaf` (the active leaf by default): what models see."""
        if leaf is None or leaf == self.leaf:
            return list(self.memo("path", self._path))
        return self._path(leaf)

    def _path(self, leaf: str | None = None) -> list[Message]:
        out: list[Message] = []
        node = self.leaf if leaf is None else leaf
        seen: set[str] = set()
        while node is not None and node in self.nodes and node not in seen:
            seen.add(node)
            message = self.nodes[node]
            out.append(message)
            node = message.parent
        out.reverse()
        return out

    @property
    def messages(self) -> list[Message]:
        """The active branch as shown: each round's answers just after their question."""
        return self.shown(self.leaf)

    def shown(self, leaf: str | None) -> list[Message]:
        """The branch ending at `leaf` as shown: each round's answers after their question."""
        out: list[Message] = []
        shown: set[str] = set()
        for message in self.path(leaf) if leaf is not None else []:
            if message.id in shown:
                continue  # a round answer picked to go on from is already in its round
            out.append(message)
            for c in self.children.get(message.id, ()):
                if self.nodes[c].lane is not None:
                    out.append(self.nodes[c])
                    shown.add(c)
        return out

    def __iter__(self) -> Iterator[Message]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Conversation):
            return NotImplemented
        return (list(self.nodes.values()), self.leaf, self.events, self.active_model, self.title) == (
            list(other.nodes.values()), other.leaf, other.events, other.active_model, other.title)

    def __repr__(self) -> str:
        return f"Conversation({len(self.nodes)} messages, leaf={self.leaf!r}, {len(self.events)} events)"

    def siblings(self, message_id: str) -> list[Message]:
        """The alternatives of a message (itself included), oldest first."""
        parent = self.nodes[message_id].parent
        return [self.nodes[c] for c in self.children.get(parent, ()) if self.nodes[c].lane is None]

    # ----------------------------------------------------------------- changing

    def apply(self, event: Event) -> None:
        """The one place a conversation changes."""
        if not isinstance(event, TextDelta):
            self.revision += 1
        if isinstance(event, MessageAdded):
            self._add(event.message)
        elif isinstance(event, TurnStarted):
            self.streaming[event.lane] = Streaming(event.model, event.purpose)
        elif isinstance(event, TextDelta):
            flight = self.streaming.get(event.lane)
            if flight is None:
                flight = self.streaming[event.lane] = Streaming(event.model)
            flight.chunks.append(event.text)
        elif isinstance(event, ModelSelected):
            self.active_model = event.model
        elif isinstance(event, BranchSelected):
            self.select(event.leaf)
        elif isinstance(event, (RunFinished, RunFailed, RunCancelled)):
            self.streaming.clear()
        elif isinstance(event, TimelineEvent):
            self.events.append(event)
            if isinstance(event, TurnEvent):
                self.streaming.pop(event.lane, None)
            elif isinstance(event, HandoffEvent):
                self.active_model = event.to_model

    def _add(self, message: Message) -> None:
        if message.id in self.nodes:
            return
        self.revision += 1
        self.nodes[message.id] = message
        self.children.setdefault(message.parent, []).append(message.id)
        if message.lane is None:
            self.leaf = message.id
        if not self.title and message.role == "user" and message.content.strip():
            self.title = " ".join(message.content.split())[:80]

    def select(self, leaf: str | None) -> None:
        """Go on from another branch (None: from the start)."""
        if leaf is not None and leaf not in self.nodes:
            raise KeyError(leaf)
        self.revision += 1
        self.leaf = leaf

    def answers(self) -> list[Message]:
        """Every answer to the active branch's last question, oldest first: regenerated
        ones, a round's columns, a cut attempt a fallback replaced, and the one shown (a
        judge's verdict is not an answer)."""
        question = next((m for m in reversed(self.path()) if m.role == "user"), None)
        if question is None:
            return []
        return [self.nodes[c] for c in self.children.get(question.id, ())
                if self.nodes[c].role == "assistant" and self.nodes[c].lane != "judge"]

    def latest_under(self, message_id: str) -> str:
        """The newest end of the branches below a message (where stepping to it goes on)."""
        node = message_id
        while True:
            below = [c for c in self.children.get(node, ()) if self.nodes[c].lane is None]
            if not below:
                return node
            node = below[-1]

    def leaves(self) -> list[Message]:
        """The end of every branch, oldest first: what `/tree` offers to jump to."""
        return [m for m in self.nodes.values()
                if m.lane is None and not any(self.nodes[c].lane is None for c in self.children.get(m.id, ()))]

    def clear(self) -> None:
        self.revision += 1
        self.nodes.clear()
        self.children.clear()
        self.events.clear()
        self.streaming.clear()
        self.leaf = None
        self.title = ""

    def snapshot(self, partials: bool = True) -> Conversation:
        """A copy (messages are immutable, so a shallow one) with, if `partials`, the answers
        still streaming kept as partial messages: what autosave writes from another thread."""
        snap = Conversation(active_model=self.active_model, title=self.title)
        snap.nodes = dict(self.nodes)
        snap.children = {k: list(v) for k, v in self.children.items()}
        snap.leaf = self.leaf
        snap.events = list(self.events)
        snap.revision += 1
        for lane, flight in list(self.streaming.items()) if partials else ():
            if flight.chunks:
                snap._add(partial_message(flight, lane, self._lane_parent(lane)))
        return snap

    def _lane_parent(self, lane: str | None) -> str | None:
        if lane is None:
            return self.leaf
        # A round's answers hang off its question: the last user message on the branch.
        node = self.leaf
        while node is not None and node in self.nodes:
            if self.nodes[node].role == "user":
                return node
            node = self.nodes[node].parent
        return self.leaf

    def cancel_partials(self) -> list[Message]:
        """The answers still streaming, as the partial messages a cancellation keeps."""
        return [partial_message(flight, lane, self._lane_parent(lane))
                for lane, flight in self.streaming.items() if flight.chunks]


def partial_message(flight: Streaming, lane: str | None, parent: str | None) -> Message:
    return Message("assistant", flight.text, flight.model, partial=True, lane=lane, id=new_id(), parent=parent)


def _flat_links(conversation: Conversation, events: list[TimelineEvent]) -> list[TimelineEvent]:
    """A flat conversation (version 1) placed rounds by their order and handoffs by a
    message count: turn both into the ids of the messages they belong to."""
    ordered = list(conversation)
    groups: dict[str, dict[str, str]] = {}  # question id -> its lane answers
    for m in ordered:
        if m.lane is not None and m.parent is not None and m.lane != "judge":
            groups.setdefault(m.parent, {})[m.lane] = m.content
    out: list[TimelineEvent] = []
    for ev in events:
        if isinstance(ev, (ParallelEvent, ConsensusEvent)) and ev.at is None and ev.answers:
            # The round whose columns hold these answers (a cancelled round has no record).
            match = next((q for q, answers in groups.items()
                          if all(ev.answers.get(lane) == text for lane, text in answers.items())), None)
            if match is not None:
                del groups[match]
                ev = dataclasses.replace(ev, at=match)
        elif isinstance(ev, HandoffEvent) and ev.at is not None and ev.at.isdigit():
            count = int(ev.at)
            ev = dataclasses.replace(ev, at=ordered[count - 1].id if 0 < count <= len(ordered) else None)
        out.append(ev)
    return out


def _linked(message: Message, conversation: Conversation) -> Message:
    """A message given without tree links (an old session, a test) hangs off the leaf,
    and a round answer off the question before it."""
    if message.id:
        return message
    parent = conversation._lane_parent(message.lane) if message.lane is not None else conversation.leaf
    return dataclasses.replace(message, id=new_id(), parent=parent)
