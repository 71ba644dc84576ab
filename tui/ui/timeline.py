"""The handoff timeline: one line per recorded event; Enter or a click shows its details."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from .text import dollars, one_line


def _tokens(record: dict[str, Any]) -> str:
    usage = record.get("usage") or {}
    if not usage:
        return ""
    n = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
    return f"{n / 1000:.0f}k tok" if n >= 10_000 else f"{n} tok"  # the details show every figure


def _cost(record: dict[str, Any]) -> str:
    cost = record.get("cost_usd")
    return dollars(cost) if isinstance(cost, (int, float)) else ""


def _latency(record: dict[str, Any]) -> str:
    latency = record.get("latency_s")
    return f"{latency:.1f}s" if isinstance(latency, (int, float)) and latency else ""


def _models(record: dict[str, Any]) -> str:
    kind = record.get("type")
    if kind in ("handoff", "fallback"):
        return f"{record.get('from')} → {record.get('to')}"
    if kind == "consult":
        return f"{record.get('from')} asked {record.get('to')}"
    if kind == "vote":
        return f"{record.get('winner')} over {', '.join(record.get('losers', []))}"
    if kind == "route":
        return f"{record.get('task_type')} → {record.get('model')}"
    if kind == "parallel":
        models = ", ".join(record.get("models", []))
        synth = record.get("synthesizer")
        return f"{models} ⇒ {synth}" if synth else models
    if kind == "consensus":
        return f"{', '.join(record.get('models', []))} · judge {record.get('judge')} · winner {record.get('winner')}"
    if kind == "tool_call":
        return f"{record.get('model')} {record.get('server')}.{record.get('tool')}"
    if kind == "notice":
        return str(record.get("message", ""))
    if kind == "retry":
        return f"{record.get('model')} attempt {record.get('attempt')}"
    if kind == "validation":
        return f"{record.get('model')} {'passed' if record.get('passed') else 'failed: ' + str(record.get('reason'))}"
    lane = record.get("lane")
    model = str(record.get("model", ""))
    purpose = record.get("purpose")
    if purpose and purpose != "answer":
        model += f" ({purpose})"
    elif lane:
        model += " (lane)"
    return model


LINE_WIDTH = 36  # what the side panel gives a timeline line (inside its border, padding and scrollbar)


def describe(record: dict[str, Any]) -> Content:
    """One timeline line: type, model(s), then its figures (tokens, cost, latency); the
    names are cut to leave the figures whole."""
    kind = str(record.get("type", "event"))
    if record.get("partial"):
        kind += "*"
    if record.get("error") and kind == "tool_call":
        kind += "!"
    figures = " ".join(part for part in (_tokens(record), _cost(record), _latency(record)) if part)
    room = max(3, LINE_WIDTH - 10 - (len(figures) + 1 if figures else 0))  # names give way: figures stay whole
    return Content.assemble(
        (f"{kind:<9} ", "bold"),
        one_line(_models(record), room),
        (" " + figures if figures else "", "dim"),
    )


def totals(records: Sequence[dict[str, Any]]) -> str:
    """The session in one line: turns, tokens, cost (or unknown), time spent in models."""
    turns = [r for r in records if r.get("type") == "turn"]
    usages = [r.get("usage") or {} for r in turns]
    tokens = sum(int(u.get("input_tokens", 0)) + int(u.get("output_tokens", 0)) for u in usages)
    costs = [r["cost_usd"] for r in turns if isinstance(r.get("cost_usd"), (int, float))]
    unknown = any(r.get("cost_usd") is None and r.get("usage") for r in turns)
    money = dollars(sum(costs)) + ("+?" if unknown else "") if costs else ("$?" if unknown else "$0")
    seconds = sum(float(r.get("latency_s") or 0) for r in turns)
    # The panel's lower border holds about 38 characters; "?" is a cost not known, never $0.
    count = f"{tokens / 1000:.0f}k" if tokens >= 10_000 else f"{tokens:,}"
    return f"{len(turns)} turns · {count} tok · {money} · {seconds:.1f}s"


class Timeline(OptionList):
    """Every timeline record of the conversation, in order."""

    @dataclass
    class Selected(Message):
        """The person asked for the details of one record."""

        record: dict[str, Any]

    def __init__(self, records: Callable[[], Sequence[dict[str, Any]]], *, id: str | None = None) -> None:
        """`records` is read on mount, so a timeline mounted late shows every record."""
        super().__init__(id=id, markup=False)
        self._source = records
        self._records: list[dict[str, Any]] = []
        self.border_title = "Timeline"

    def on_mount(self) -> None:
        self.add_records(list(self._source()))

    def add_records(self, records: list[dict[str, Any]]) -> None:
        start = len(self._records)
        self._records.extend(records)
        self.border_subtitle = totals(self._records)
        self.add_options(
            Option(describe(record), id=str(start + i)) for i, record in enumerate(records)
        )
        if self.option_count:
            self.scroll_end(animate=False)

    def reset(self, records: list[dict[str, Any]]) -> None:
        self._records = []
        self.clear_options()
        self.add_records(records)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id is not None:
            self.post_message(self.Selected(self._records[int(event.option_id)]))
