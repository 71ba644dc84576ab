"""Baton as a hub: another agent asks one model, or a judged round of models, through
Baton's profile and keys.

Each call runs on an Engine of its own, the same code as the app and `baton ask`, with
no tools and no handoffs (the caller asked that model, so that model answers), and ends
within a deadline taken from the profile's [limits] so a hung provider cannot hold the
caller forever. Failures are `HubError`s of one line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace

from pydantic import BaseModel, Field

from ..engine import Engine, Run, drain
from ..events import ConsensusEvent, Event, RunFailed, RunFinished
from ..models import ModelError
from ..profile import Profile
from ..text import one_line

# A consensus round is two turns one after the other: the members (at once), then the judge.
CONSENSUS_TURNS = 2


class HubError(Exception):
    """A call that cannot be answered; the text is one line for the caller."""


class TokenUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class Consultation(BaseModel):
    answer: str
    model: str = Field(description="The model that answered (a fallback's name when the profile fell back)")
    usage: TokenUsage
    cost_usd: float | None = Field(description="USD for the call; null when a model has no known price")
    latency_s: float


class Verdict(BaseModel):
    ranking: list[str] = Field(description="The models, best first")
    winner: str
    answer: str = Field(description="The winner's answer")
    answers: dict[str, str] = Field(description="Each model's answer")
    labels: dict[str, str] = Field(description="Anonymous label the judge saw -> model")
    judge: str
    judge_output: str
    usage: TokenUsage
    cost_usd: float | None
    latency_s: float


def _hub_profile(profile: Profile, system: str | None = None) -> Profile:
    """The profile as the hub uses it: the named model answers (no routing, no transfers)."""
    return replace(
        profile,
        system_prompt=profile.system_prompt if system is None else system,
        routing=replace(profile.routing, mode="manual"),
        handoff=replace(profile.handoff, targets=[]),
    )


def _known(engine: Engine, models: list[str]) -> None:
    for model in models:
        try:
            engine.check_model(model)
        except ModelError as exc:
            known = ", ".join(engine.profile.models) or "none"
            raise HubError(one_line(f"{exc} (profile '{engine.profile.name}' models: {known})")) from None


async def _finish(engine: Engine, run: Run, seconds: float) -> tuple[RunFinished, list[Event]]:
    try:
        async with asyncio.timeout(seconds):
            events = await drain(run)
    except TimeoutError:
        raise HubError(f"no answer within {seconds:g} s (the profile's [limits] turn_timeout_s)") from None
    finally:
        await engine.aclose()  # stops a run cut short by the deadline
    end = run.result
    if isinstance(end, RunFinished):
        return end, events
    if isinstance(end, RunFailed):
        raise HubError(one_line(end.error))
    raise HubError("the run was cancelled")


async def consult(
    profile: Profile, env: Mapping[str, str], model: str, prompt: str, system: str | None = None
) -> Consultation:
    """`model`'s answer to `prompt` (with `system` in place of the profile's system prompt)."""
    engine = Engine(_hub_profile(profile, system), env=env)
    try:
        _known(engine, [model])
        engine.set_model(model)
    except HubError:
        await engine.aclose()
        raise
    started = time.monotonic()
    done, _ = await _finish(engine, engine.send(prompt), profile.limits.turn_timeout_s)
    return Consultation(
        answer=done.final_output,
        model=done.model,
        usage=TokenUsage(**done.usage.to_dict()),
        cost_usd=done.cost_usd,
        latency_s=round(time.monotonic() - started, 3),
    )


async def consensus(profile: Profile, env: Mapping[str, str], models: list[str], judge: str, prompt: str) -> Verdict:
    """Every model answers `prompt`; `judge` ranks the anonymous answers."""
    if not models:
        raise HubError("a consensus round needs at least one model")
    engine = Engine(_hub_profile(profile), env=env)
    try:
        _known(engine, [*models, judge])
    except HubError:
        await engine.aclose()
        raise
    started = time.monotonic()
    seconds = profile.limits.turn_timeout_s * CONSENSUS_TURNS
    done, events = await _finish(engine, engine.consensus(prompt, models, judge), seconds)
    round_ = next((e for e in events if isinstance(e, ConsensusEvent)), None)
    if round_ is None:
        raise HubError("the round ended without a verdict")
    return Verdict(
        ranking=list(round_.ranking),
        winner=round_.winner,
        answer=done.final_output,
        answers=dict(round_.answers),
        labels=dict(round_.labels),
        judge=round_.judge,
        judge_output=round_.judge_output,
        usage=TokenUsage(**done.usage.to_dict()),
        cost_usd=done.cost_usd,
        latency_s=round(time.monotonic() - started, 3),
    )
