"""What a run says, as it happens: small frozen dataclasses.

The app renders them, `baton ask` prints them, the session and the audit log record them.

Two families:
- stream events (`TurnStarted`, `TextDelta`, `RunFinished`, `RunFailed`) drive the
  display and are not part of the timeline;
- timeline events (subclasses of `TimelineEvent`) are recorded: each has `type` (the
  name used in JSON, the session and the audit log) and `to_record()`.

`lane` names a concurrent answer inside one run: None for the main conversation, the
model's name for each answer of a parallel or consensus round.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from .types import Usage


def _now() -> float:
    return time.time()


# --------------------------------------------------------------------- stream events


@dataclass(frozen=True)
class TurnStarted:
    model: str
    lane: str | None = None
    purpose: str = "answer"  # answer | synthesis | judge | stage | check


@dataclass(frozen=True)
class TextDelta:
    model: str
    text: str
    lane: str | None = None


@dataclass(frozen=True)
class RunFinished:
    final_output: str
    model: str
    usage: Usage = Usage()
    cost_usd: float | None = None


@dataclass(frozen=True)
class RunFailed:
    error: str


# ------------------------------------------------------------------- timeline events


@dataclass(frozen=True)
class TimelineEvent:
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
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class HandoffEvent(TimelineEvent):
    type: ClassVar[str] = "handoff"
    from_model: str
    to_model: str
    reason: str  # "user" | "tool" | "chain"
    instructions: str
    package: dict[str, Any] = field(default_factory=dict)
    # Messages in the conversation before it: where a reloaded session shows it.
    at: int | None = None
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RouteEvent(TimelineEvent):
    type: ClassVar[str] = "route"
    task_type: str
    model: str
    reason: str
    mode: str = "auto"
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class FallbackEvent(TimelineEvent):
    type: ClassVar[str] = "fallback"
    from_model: str
    to_model: str
    error: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class RetryEvent(TimelineEvent):
    type: ClassVar[str] = "retry"
    model: str
    attempt: int
    delay_s: float
    error: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ToolCallEvent(TimelineEvent):
    type: ClassVar[str] = "tool_call"
    model: str
    server: str
    tool: str
    arguments: dict[str, Any]
    result: str = ""
    error: str | None = None
    latency_s: float = 0.0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ParallelEvent(TimelineEvent):
    type: ClassVar[str] = "parallel"
    models: tuple[str, ...]
    answers: dict[str, str]  # model -> answer ("" if it failed)
    errors: dict[str, str] = field(default_factory=dict)
    synthesizer: str | None = None
    synthesis: str | None = None
    latency_s: float = 0.0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ConsensusEvent(TimelineEvent):
    type: ClassVar[str] = "consensus"
    models: tuple[str, ...]
    judge: str
    ranking: tuple[str, ...]  # models, best first
    winner: str
    answers: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # anonymous label -> model
    judge_output: str = ""
    latency_s: float = 0.0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class StageEvent(TimelineEvent):
    type: ClassVar[str] = "stage"
    index: int
    model: str
    output: str
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class ValidationEvent(TimelineEvent):
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


Event = TurnStarted | TextDelta | RunFinished | RunFailed | TimelineEvent
