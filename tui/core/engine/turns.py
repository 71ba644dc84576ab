"""One answer from one model, made robust: retries with backoff, then fallbacks in order.

`TurnRunner.answer` yields the turn's events and ends with one `TurnFinished`. An
attempt cut short after some text yields its partial as a marked message (a sibling of
the answer that replaces it), so nothing streamed is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, cast

from ..events import (
    Event,
    FallbackEvent,
    MessageAdded,
    NoticeEvent,
    ReasoningDelta,
    RetryEvent,
    TextDelta,
    TurnEvent,
    TurnFinished,
    TurnStarted,
    ValidationEvent,
)
from ..history import wire_messages
from ..models import ModelError, ModelSpec, api_key, resolve_model
from ..pricing import cost_usd, look_up_early
from ..profile import Profile
from ..providers.base import (
    ChatRequest,
    Deadlines,
    Delta,
    Done,
    Provider,
    ProviderError,
    ProviderEvent,
    ThinkingBlock,
)
from ..providers.base import ReasoningDelta as ProviderReasoning
from ..types import Message, ToolSpec, Usage, new_id

if TYPE_CHECKING:
    from ..providers.worker import StreamWorker

MAX_BACKOFF_S = 10.0

Extra = Callable[[ModelSpec], dict[str, Any]]


class TurnRunner:
    def __init__(
        self,
        profile: Profile,
        env: Mapping[str, str],
        *,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        blocked: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.profile = profile
        self.env = env
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        # Providers that stay off (a file not trusted): name -> why.
        self.blocked: Mapping[str, str] = blocked or {}
        # What has been spent so far against [limits] budget_usd (the session's, or the run's).
        self.spent: Callable[[], float] = lambda: 0.0
        self._sleep = sleep
        self._providers: dict[tuple[str, str], Provider] = {}
        self._told_thinking: set[str] = set()
        self._client: Any = None
        # The app's providers stream in a process of their own (None: in this one).
        self.worker: StreamWorker | None = None

    # ------------------------------------------------------------------ providers

    def resolve(self, name: str) -> ModelSpec:
        spec = resolve_model(name, self.profile, self.env)
        why = self.blocked.get(spec.provider.name)
        if why is not None:
            raise ModelError(f"{name}: provider '{spec.provider.name}' is {why}")
        return spec

    def provider(self, spec: ModelSpec) -> Provider:
        key = (spec.provider.name, spec.provider.base_url)
        if key not in self._providers:
            from .._httpx import httpx, ssl_context
            from ..providers import make_provider

            secret = api_key(spec.provider, self.env)  # a missing key fails here, before any request

            def in_process() -> Provider:
                if self._client is None:
                    self._client = httpx.AsyncClient(
                        timeout=httpx.Timeout(120.0, connect=10.0),
                        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                        verify=ssl_context(),
                    )
                return make_provider(spec.provider, secret, client=self._client)

            worker = self.worker
            self._providers[key] = in_process() if worker is None else worker.provider(spec.provider, secret,
                                                                                         in_process)
        return self._providers[key]

    def _window_warning(self, model: str, history: list[Message]) -> NoticeEvent | None:
        from ..context import estimate_tokens, window

        try:
            size = window(self.resolve(model))
        except ModelError:
            return None
        used = estimate_tokens(history)
        if size is None or used <= size * 0.8:
            return None
        return NoticeEvent(f"falling back to {model}, whose context window ({size:,} tokens) is "
                           f"{'smaller than' if used > size else 'nearly'} this conversation (~{used:,} tokens)")

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
        parent: str | None,
        system: str | None = None,
        tools: tuple[ToolSpec, ...] = (),
        lane: str | None = None,
        purpose: str = "answer",
        validate: bool = False,
        extra: Extra | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Try `model`, then its fallbacks in order; end with a TurnFinished."""
        order = [model] + [m for m in self.profile.fallbacks.get(model, []) if m != model]
        last_error = "no model tried"
        for i, name in enumerate(order):
            result: TurnFinished | None = None
            try:
                spec = self.resolve(name)
                self.provider(spec)
            except ModelError as e:
                last_error = str(e)
            else:
                async for ev in self._with_retries(spec, history, parent, system, tools, lane, purpose, extra):
                    if isinstance(ev, TurnFinished):
                        result = ev
                    else:
                        yield ev
                assert result is not None
                if result.ok:
                    problem = _output_problem(result, validate)
                    if problem:
                        yield ValidationEvent(name, False, problem)
                        if i + 1 < len(order) or problem.startswith("empty"):
                            result = TurnFinished(name, False, result.text, usage=result.usage,
                                                  cost_usd=result.cost_usd, error=problem, lane=lane, purpose=purpose)
                if result.ok or result.finish_reason == "budget":  # no fallback spends past the budget
                    yield result
                    return
                last_error = result.error or "failed"
            if i + 1 < len(order):
                yield FallbackEvent(name, order[i + 1], last_error)
                warning = self._window_warning(order[i + 1], history)
                if warning is not None:
                    yield warning
        yield TurnFinished(model, False, error=last_error, lane=lane, purpose=purpose)

    async def _with_retries(
        self, spec: ModelSpec, history: list[Message], parent: str | None, system: str | None,
        tools: tuple[ToolSpec, ...], lane: str | None, purpose: str, extra: Extra | None,
    ) -> AsyncGenerator[Event, None]:
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
                    yield MessageAdded(Message("assistant", e.partial, spec.name, partial=True, lane=lane,
                                               id=new_id(), parent=parent))
                if not e.retryable or attempt >= self.max_retries:
                    yield TurnFinished(spec.name, False, error=str(e), lane=lane, purpose=purpose,
                                       finish_reason="budget" if isinstance(e, BudgetError) else "error")
                    return
                attempt += 1
                delay = min(e.retry_after if e.retry_after is not None else self.backoff_s * 2 ** (attempt - 1),
                            MAX_BACKOFF_S)
                yield RetryEvent(spec.name, attempt, delay, str(e))
                await self._sleep(delay)

    async def _attempt(
        self, spec: ModelSpec, history: list[Message], system: str | None, tools: tuple[ToolSpec, ...],
        lane: str | None, purpose: str, extra: Extra | None,
    ) -> AsyncGenerator[Event, None]:
        limits = self.profile.limits
        wire = wire_messages(history, spec.name, {t.name for t in tools})
        request = ChatRequest(
            deadlines=Deadlines(limits.connect_timeout_s, limits.first_token_timeout_s, limits.idle_timeout_s,
                                limits.turn_timeout_s),
            model=spec.model_id,
            messages=wire,
            reasoning_effort=spec.reasoning_effort,
            thinking_budget=spec.thinking_budget,
            thinking_replay={i: tuple(ThinkingBlock(*b) for b in m.thinking)
                             for i, m in enumerate(wire) if m.thinking},
            system=system or None,
            tools=tools,
            max_tokens=spec.max_tokens or 4096,
            temperature=spec.temperature,
            extra=extra(spec) if extra else {},
        )
        budget = Budget.check(limits.budget_usd, self.spent(), spec, request)
        started = time.monotonic()
        yield TurnStarted(spec.name, lane, purpose)
        if spec.name not in self._told_thinking and any(m.thinking and m.model != spec.name for m in history):
            self._told_thinking.add(spec.name)
            yield NoticeEvent(f"{spec.name} is not sent the thinking of other models' answers (it is kept for them)")
        stream_of = cast(AsyncGenerator[ProviderEvent, None], self.provider(spec).stream(request))
        rates = asyncio.ensure_future(look_up_early(spec))
        async with aclosing(stream_of) as stream:
            try:
                async for ev in stream:
                    if isinstance(ev, Delta):
                        if ev.text:
                            yield TextDelta(spec.name, ev.text, lane)
                            if budget is not None:
                                budget.streamed(ev.text)
                    elif isinstance(ev, ProviderReasoning):
                        if ev.text:
                            yield ReasoningDelta(spec.name, ev.text, lane)
                    elif isinstance(ev, Done):
                        latency = round(time.monotonic() - started, 3)
                        await rates
                        cost = cost_usd(spec, ev.usage, cache_read=ev.cache_read_tokens,
                                        cache_write=ev.cache_write_tokens, reported=ev.cost_usd)
                        yield TurnEvent(spec.name, ev.text, ev.usage.to_dict(), cost, latency, ev.finish_reason,
                                        lane=lane, purpose=purpose, reasoning=ev.reasoning)
                        yield TurnFinished(
                            spec.name, True, ev.text, ev.tool_calls, ev.usage, cost, ev.finish_reason, lane=lane,
                            purpose=purpose, reasoning=ev.reasoning,
                            thinking=tuple((b.text, b.signature, b.redacted) for b in ev.thinking_blocks),
                            server_tools=tuple((c.server or "hosted", c.name, c.arguments, c.result)
                                               for c in ev.server_tool_calls),
                        )
            finally:
                rates.cancel()


def _output_problem(result: TurnFinished, validate: bool) -> str | None:
    if (not result.text or result.text.isspace()) and not result.tool_calls:  # no copy of a huge answer
        return "empty output"
    if validate and result.finish_reason == "length":
        return "truncated output (the provider's length limit)"
    return None


async def collect(events: AsyncIterator[Event], into: list[TurnFinished]) -> AsyncGenerator[Event, None]:
    """Pass a turn's events on, keeping its TurnFinished in `into` as well."""
    async for ev in events:
        if isinstance(ev, TurnFinished):
            into.append(ev)
        yield ev


class BudgetError(ProviderError):
    """A turn that would go past `[limits] budget_usd`: never retried, never a fallback's."""


class Budget:
    """`[limits] budget_usd` held per request: refused before it starts when the money is
    spent, and stopped mid-stream when its estimated cost reaches what is left (estimated
    from the text streamed, 4 characters a token, until the provider reports usage)."""

    def __init__(self, limit: float, spent: float, spec: ModelSpec, input_tokens: int) -> None:
        self.limit, self.spent, self.spec = limit, spent, spec
        self.input_tokens = input_tokens
        self.chars = 0
        self.pieces: list[str] = []

    @classmethod
    def check(cls, limit: float | None, spent: float, spec: ModelSpec, request: ChatRequest) -> Budget | None:
        if limit is None:
            return None
        if spent >= limit:
            raise BudgetError(f"budget of {_money(limit)} reached (${spent:.4f} spent): raise [limits] budget_usd "
                              "or start a new session")
        chars = len(request.system or "") + sum(len(m.content) for m in request.messages)
        budget = cls(limit, spent, spec, chars // 4)
        if budget.estimate() is None:
            raise BudgetError(f"no price known for {spec.name}, so it cannot be held to the budget of "
                              f"{_money(limit)}: give it input_price and output_price (0 for a free local model)")
        return budget

    def estimate(self) -> float | None:
        return cost_usd(self.spec, Usage(self.input_tokens, self.chars // 4))

    def streamed(self, text: str) -> None:
        self.chars += len(text)
        self.pieces.append(text)
        cost = self.estimate() or 0.0
        if self.spent + cost >= self.limit:
            raise BudgetError(f"stopped at the budget of {_money(self.limit)} (about ${self.spent + cost:.4f} "
                              "with this answer); what arrived is kept", partial="".join(self.pieces))


def _money(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 0.01 else f"${usd:.4f}"
