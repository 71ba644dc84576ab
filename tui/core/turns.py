"""One answer from one model, made robust: retries with backoff, then fallbacks in order.

`Caller.answer` is an async generator of events ending with a `TurnResult` (internal;
the engine consumes it and never passes it on).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from .events import FallbackEvent, RetryEvent, TextDelta, TurnEvent, TurnStarted, ValidationEvent
from .models import ModelError, ModelSpec, api_key, resolve_model
from .pricing import cost_usd
from .profile import Profile
from .providers.base import ChatRequest, Delta, Done, Provider, ProviderError
from .types import Message, ToolCall, ToolSpec, Usage

MAX_BACKOFF_S = 10.0


@dataclass(frozen=True)
class TurnResult:
    model: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    cost_usd: float | None = None
    finish_reason: str = "stop"
    ok: bool = True
    error: str | None = None


@dataclass
class Outcome:
    """Where a turn's TurnResult lands while the events before it are passed on."""

    result: TurnResult | None = None

    async def collect(self, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for ev in events:
            if isinstance(ev, TurnResult):
                self.result = ev
            else:
                yield ev


@dataclass
class InFlight:
    """Text streamed so far by a model in a lane, for saving partial answers."""

    model: str
    purpose: str
    chunks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def wire_messages(history: list[Message], me: str, tool_names: set[str]) -> tuple[Message, ...]:
    """The conversation as `me` should receive it.

    Round answers (lanes) are shown only through the round's outcome; a partial answer
    is kept only if the person wrote after it (a cancelled answer they saw); tool calls to tools this model is not
    offered, or made by another model (a handoff), become plain text: both wire formats
    reject calls to undeclared tools, and ids from one provider may not suit another.
    """
    out: list[Message] = []
    flattened: set[str] = set()
    visible = [m for m in history if m.lane is None]
    for i, m in enumerate(visible):
        if m.role == "assistant" and m.partial and (i + 1 == len(visible) or visible[i + 1].role == "assistant"):
            continue  # a cut attempt that a retry or fallback replaces
        if m.role == "assistant":
            content = m.content
            if m.model and m.model != me and content:
                content = f"[{m.model}] {content}"
            keep, notes = [], []
            for call in m.tool_calls:
                if call.name in tool_names and m.model == me:
                    keep.append(call)
                else:
                    flattened.add(call.id)
                    notes.append(f"[called {call.name} {json.dumps(call.arguments, ensure_ascii=False)}]")
            if notes:
                content = "\n".join(filter(None, [content, *notes]))
            if content or keep:
                out.append(Message("assistant", content, m.model, tuple(keep)))
        elif m.role == "tool":
            if m.tool_call_id in flattened or (m.tool_name and m.tool_name not in tool_names):
                out.append(Message("user", f"[result of {m.tool_name or 'tool'}] {m.content}"))
            else:
                out.append(m)
        elif m.content:
            out.append(m)
    return tuple(out)


class Caller:
    def __init__(
        self,
        profile: Profile,
        env: Mapping[str, str],
        *,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        timeout_s: float = 120.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.profile = profile
        self.env = env
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._providers: dict[tuple[str, str], Provider] = {}
        self._client = None
        self.inflight: dict[str | None, InFlight] = {}
        # Answers cut short by cancellation, for the engine to keep as partial messages.
        self.cancelled: list[tuple[str | None, InFlight]] = []

    # ------------------------------------------------------------------ providers

    def provider(self, spec: ModelSpec) -> Provider:
        key = (spec.provider.name, spec.provider.base_url)
        if key not in self._providers:
            from ._httpx import httpx

            from .providers import make_provider

            if self._client is None:
                self._client = httpx.AsyncClient(
                    timeout=httpx.Timeout(self.timeout_s, connect=10.0),
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                )
            self._providers[key] = make_provider(
                spec.provider, api_key(spec.provider, self.env), client=self._client
            )
        return self._providers[key]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._providers.clear()

    # --------------------------------------------------------------------- answer

    async def answer(
        self,
        model: str,
        history: list[Message],
        *,
        system: str | None = None,
        tools: tuple[ToolSpec, ...] = (),
        lane: str | None = None,
        purpose: str = "answer",
        validate: bool = False,
        extra: Callable[[ModelSpec], dict[str, Any]] | None = None,
    ) -> AsyncIterator[Any]:
        """Try `model`, then its fallbacks in order; end with a TurnResult."""
        order = [model] + [m for m in self.profile.fallbacks.get(model, []) if m != model]
        last_error = "no model tried"
        for i, name in enumerate(order):
            result: TurnResult | None = None
            try:
                spec = resolve_model(name, self.profile, self.env)
                self.provider(spec)  # a missing key fails here, before any request
            except ModelError as e:
                last_error = str(e)
            else:
                async for ev in self._with_retries(spec, history, system, tools, lane, purpose, extra):
                    if isinstance(ev, TurnResult):
                        result = ev
                    else:
                        yield ev
                assert result is not None
                if result.ok and validate:
                    problem = _output_problem(result)
                    if problem:
                        yield ValidationEvent(name, False, problem)
                        if i + 1 < len(order) or problem.startswith("empty"):
                            result = TurnResult(name, result.text, usage=result.usage, cost_usd=result.cost_usd,
                                                ok=False, error=problem)
                if result.ok:
                    yield result
                    return
                last_error = result.error or "failed"
            if i + 1 < len(order):
                yield FallbackEvent(name, order[i + 1], last_error)
        yield TurnResult(model, ok=False, error=last_error)

    async def _with_retries(self, spec, history, system, tools, lane, purpose, extra) -> AsyncIterator[Any]:
        attempt = 0
        while True:
            try:
                async for ev in self._attempt(spec, history, system, tools, lane, purpose, extra):
                    yield ev
                return
            except ProviderError as e:
                if e.partial:
                    yield TurnEvent(spec.name, e.partial, partial=True, lane=lane, purpose=purpose,
                                    finish_reason="error")
                if not e.retryable or attempt >= self.max_retries:
                    yield TurnResult(spec.name, ok=False, error=str(e))
                    return
                attempt += 1
                delay = min(e.retry_after if e.retry_after is not None else self.backoff_s * 2 ** (attempt - 1),
                            MAX_BACKOFF_S)
                yield RetryEvent(spec.name, attempt, delay, str(e))
                await self._sleep(delay)

    async def _attempt(self, spec, history, system, tools, lane, purpose, extra) -> AsyncIterator[Any]:
        request = ChatRequest(
            model=spec.model_id,
            messages=wire_messages(history, spec.name, {t.name for t in tools}),
            system=system or None,
            tools=tools,
            max_tokens=spec.max_tokens or 4096,
            temperature=spec.temperature,
            extra=extra(spec) if extra else {},
        )
        flight = self.inflight[lane] = InFlight(spec.name, purpose)
        started = time.monotonic()
        yield TurnStarted(spec.name, lane, purpose)
        try:
            async with aclosing(self.provider(spec).stream(request)) as stream:
              async for ev in stream:
                if isinstance(ev, Delta):
                    if ev.text:
                        flight.chunks.append(ev.text)
                        yield TextDelta(spec.name, ev.text, lane)
                elif isinstance(ev, Done):
                    latency = time.monotonic() - started
                    cost = cost_usd(spec, ev.usage)
                    yield TurnEvent(spec.name, ev.text, ev.usage.to_dict(), cost, round(latency, 3),
                                    ev.finish_reason, lane=lane, purpose=purpose)
                    yield TurnResult(spec.name, ev.text, ev.tool_calls, ev.usage, cost, ev.finish_reason)
        except (asyncio.CancelledError, GeneratorExit):
            if flight.chunks:
                self.cancelled.append((lane, flight))
            raise
        finally:
            if self.inflight.get(lane) is flight:
                del self.inflight[lane]


def _output_problem(result: TurnResult) -> str | None:
    if not result.text.strip() and not result.tool_calls:
        return "empty output"
    if result.finish_reason == "length":
        return "truncated output (the provider's length limit)"
    return None
