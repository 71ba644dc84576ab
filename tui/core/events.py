"""What a run says, as it happens: small frozen dataclasses, and nothing else.

A run is one stream of these. `Conversation.apply(event)` is the only code that changes
a conversation; the app renders them, `baton ask` prints them, the session file and the
audit log are sinks of the same stream.

Two families:
- stream events (`TurnStarted`, `TextDelta`, `MessageAdded`, `TurnFinished`,
  `ModelSelected`, `BranchSelected`, `RunFinished`, `RunFailed`, `RunCancelled`) drive the display and the
  conversation and are not part of the timeline;
- timeline events (subclasses of `TimelineEvent`) are recorded: each has `type` (the
  name used in JSON, the session and the audit log), `to_record()` and `from_record()`.

`lane` names a concurrent answer inside one run: None for the main conversation, the
model's name for each answer of a parallel or consensus round.
"""

from __future__ import annotations

import math
import time
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .types import Message, ToolCall, Usage


def _now() -> float:
    return time.time()


# --------------------------------------------------------------------- stream events


@dataclass(frozen=True)
class TurnStarted:
    """A model begins an answer (after a retry or a fallback, again)."""

    model: str
    lane: str | None = None
    purpose: str = "answer"  # answer | synthesis | judge | stage | check


@dataclass(frozen=True)
class TextDelta:
    """A piece of an answer's text, as it streams."""

    model: str
    text: str
    lane: str | None = None


@dataclass(frozen=True)
class ReasoningDelta:
    """Thinking a model streams before (or beside) its answer; never part of the answer."""

    model: str
    text: str
    lane: str | None = None


@dataclass(frozen=True)
class MessageAdded:
    """A message joins the conversation tree under `message.parent`; one with no lane
    becomes the active leaf."""

    message: Message


@dataclass(frozen=True)
class TurnFinished:
    """One answer from one model, after retries and fallbacks: what the operation goes on with."""

    model: str
    ok: bool = True
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    cost_usd: float | None = None
    finish_reason: str = "stop"
    error: str | None = None
    lane: str | None = None
    purpose: str = "answer"
    reasoning: str = ""
    thinking: tuple[tuple[str, str, str], ...] = ()
    # Tools the provider ran on its side (Dedalus' hosted MCP servers): (server, tool, arguments, result).
    server_tools: tuple[tuple[str, str, dict[str, Any], str], ...] = ()


@dataclass(frozen=True)
class ToolStarted:
    """A tool call begins (its ToolCallEvent follows when it ends)."""

    model: str
    server: str
    tool: str


@dataclass(frozen=True)
class ToolProgress:
    """A running tool said how far it is (MCP progress notifications)."""

    tool: str
    progress: float
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class BranchSelected:
    """The conversation goes on from `leaf` (None: from the very start)."""

    leaf: str | None


@dataclass(frozen=True)
class ModelSelected:
    """The person chose who answers from now on."""

    model: str


@dataclass(frozen=True)
class RunFinished:
    """The run ended well: its final output, who gave it, and what the run used and cost."""

    final_output: str
    model: str
    usage: Usage = Usage()
    cost_usd: float | None = None


@dataclass(frozen=True)
class RunFailed:
    """The run ended with an error; nothing follows it."""

    error: str


@dataclass(frozen=True)
class RunCancelled:
    """The run was stopped; `partials` are the answers cut short, kept in the conversation.
    Nothing follows it."""

    partials: tuple[Message, ...] = ()


# ------------------------------------------------------------------- timeline events


@dataclass(frozen=True)
class TimelineEvent:
    """A recorded event: kept in the session and the audit log (see the module's text)."""

    type: ClassVar[str] = "event"

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": self.type}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                value = list(value)
            record[key] = value
        # "from" is a Python keyword; records use the spec's names.
        if "from_model" in record:
            record["from"] = record.pop("from_model")
        if "to_model" in record:
            record["to"] = record.pop("to_model")
        return record

    @staticmethod
    def from_record(record: Any) -> TimelineEvent:
        """A typed event from a record (a session file's, the audit log's); RecordError
        names what does not fit. Unknown types become a `NoticeEvent` saying so."""
        if not isinstance(record, dict):
            raise RecordError("an event is not a table")
        kind = record.get("type")
        cls = _EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise RecordError(f"unknown event type {kind!r}")
        data = {("from_model" if k == "from" else "to_model" if k == "to" else k): v
                for k, v in record.items() if k != "type"}
        if isinstance(data.get("at"), int) and not isinstance(data.get("at"), bool):
            data["at"] = str(data["at"])  # version 1 counted messages; Conversation links it to an id
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data:
                values[f.name] = _coerce(data.pop(f.name), hints[f.name], f.name)
        if data:
            raise RecordError(f"{kind} event has unknown keys: {', '.join(sorted(data))}")
        _check_finite(values, str(kind))
        try:
            return cls(**values)
        except TypeError as exc:
            raise RecordError(f"{kind} event: {exc}") from None


@dataclass(frozen=True)
class TurnEvent(TimelineEvent):
    """A model answered (or tried to): one call to a provider, end to end."""

    type: ClassVar[str] = "turn"
    model: str
    text: str
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_s: float = 0.0
    finish_reason: str = "stop"
    partial: bool = False
    lane: str | None = None
    purpose: str = "answer"
    reasoning: str = ""  # the model's thinking, apart from its answer
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HandoffEvent(TimelineEvent):
    """The conversation passed from one model to another, with a package of what it needs."""

    type: ClassVar[str] = "handoff"
    from_model: str
    to_model: str
    reason: str  # "user" | "tool" | "chain"
    instructions: str
    package: dict[str, Any] = field(default_factory=dict)
    # The id of the message it follows: where a reloaded session shows it.
    at: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ConsultEvent(TimelineEvent):
    """A model asked another once (a consult_* tool); the answer went back as a tool result."""

    type: ClassVar[str] = "consult"
    from_model: str
    to_model: str
    question: str
    answer: str = ""
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_s: float = 0.0
    error: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class VoteEvent(TimelineEvent):
    """The person preferred one answer (a blind compare, a pick after a round)."""

    type: ClassVar[str] = "vote"
    kind: str  # "compare" | "pick"
    winner: str
    losers: tuple[str, ...]
    tie: bool = False
    task_type: str = ""
    at: str | None = None  # the question's id
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class CompactEvent(TimelineEvent):
    """Older turns replaced by a summary on a new branch; the originals stay in the tree."""

    type: ClassVar[str] = "compact"
    model: str
    replaced: int
    kept: int
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_s: float = 0.0
    at: str | None = None  # the summary's id
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RouteEvent(TimelineEvent):
    """Automatic routing classified the prompt and chose a model."""

    type: ClassVar[str] = "route"
    task_type: str
    model: str
    reason: str
    mode: str = "auto"
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class FallbackEvent(TimelineEvent):
    """A model failed for good and the next of its fallbacks answers instead."""

    type: ClassVar[str] = "fallback"
    from_model: str
    to_model: str
    error: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RetryEvent(TimelineEvent):
    """A model failed in a way worth another try, after `delay_s`."""

    type: ClassVar[str] = "retry"
    model: str
    attempt: int
    delay_s: float
    error: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ToolCallEvent(TimelineEvent):
    """A tool call ended: its arguments and its result or error."""

    type: ClassVar[str] = "tool_call"
    model: str
    server: str
    tool: str
    arguments: dict[str, Any]
    result: str = ""
    error: str | None = None
    latency_s: float = 0.0
    call_id: str | None = None  # the tool call it answers
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RoundEvent(TimelineEvent):
    """A parallel or consensus round begins: the models answer `at` (the question's id)."""

    type: ClassVar[str] = "round"
    kind: str  # "parallel" | "consensus"
    models: tuple[str, ...]
    at: str | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ParallelEvent(TimelineEvent):
    """A parallel round ended: every answer, the errors and the synthesis."""

    type: ClassVar[str] = "parallel"
    models: tuple[str, ...]
    answers: dict[str, str]  # model -> answer ("" if it failed)
    errors: dict[str, str] = field(default_factory=dict)
    synthesizer: str | None = None
    synthesis: str | None = None
    latency_s: float = 0.0
    at: str | None = None  # the id of the round's question
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ConsensusEvent(TimelineEvent):
    """A consensus round ended: the judge's ranking of the anonymous answers."""

    type: ClassVar[str] = "consensus"
    models: tuple[str, ...]
    judge: str
    ranking: tuple[str, ...]  # models, best first
    winner: str
    answers: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # anonymous label -> model
    judge_output: str = ""
    latency_s: float = 0.0
    at: str | None = None  # the id of the round's question
    swap_agrees: bool | None = None  # asked twice in reversed order: did the judge pick the same winner?
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class StageEvent(TimelineEvent):
    """A pipeline stage ended with its output."""

    type: ClassVar[str] = "stage"
    index: int
    model: str
    output: str
    at: str | None = None  # the id of the stage's message
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ValidationEvent(TimelineEvent):
    """A stage's output was checked, and passed or not."""

    type: ClassVar[str] = "validation"
    model: str
    passed: bool
    reason: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class NoticeEvent(TimelineEvent):
    """Something the person should know that is not a failure of the run
    (an MCP server that did not start, a hosted tool unavailable for a model)."""

    type: ClassVar[str] = "notice"
    message: str
    time: float = field(default_factory=_now)


class RecordError(ValueError):
    """A timeline record that does not fit its event type."""


_EVENT_TYPES: dict[str, type[TimelineEvent]] = {
    cls.type: cls
    for cls in (TurnEvent, HandoffEvent, ConsultEvent, VoteEvent, CompactEvent, RouteEvent, FallbackEvent, RetryEvent,
                ToolCallEvent, RoundEvent, ParallelEvent, ConsensusEvent, StageEvent, ValidationEvent, NoticeEvent)
}


_HINTS: dict[str, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """A record type's field types, resolved once (it is the slow part of reading a session)."""
    if cls.__name__ not in _HINTS:
        _HINTS[cls.__name__] = typing.get_type_hints(cls)
    return _HINTS[cls.__name__]


def _check_finite(value: Any, where: str) -> None:
    """NaN and infinities are not numbers a record may hold, however deep."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"{where}: a number that is not finite")
    if isinstance(value, dict):
        for v in value.values():
            _check_finite(v, where)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_finite(v, where)


def _coerce(value: Any, tp: Any, name: str) -> Any:
    """`value` checked against the field's type: tuples from lists, ints accepted as floats."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for arm in typing.get_args(tp):
            if arm is type(None):
                continue
            try:
                return _coerce(value, arm, name)
            except RecordError:
                continue
        raise RecordError(f"{name}: unexpected {type(value).__name__}")
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RecordError(f"{name}: expected a finite number")
        return float(value)
    if tp in (int, str, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise RecordError(f"{name}: expected {tp.__name__}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{name}: expected a list")
        (arm, *_rest) = typing.get_args(tp)
        return tuple(_coerce(v, arm, name) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{name}: expected a table")
        _key, arm = typing.get_args(tp)
        return {str(k): _coerce(v, arm, name) for k, v in value.items()}
    return value


Event = (
    TurnStarted | TextDelta | ReasoningDelta | MessageAdded | TurnFinished | ModelSelected | BranchSelected
    | ToolStarted | ToolProgress
    | RunFinished | RunFailed | RunCancelled | TimelineEvent
)
