"""The engine: one shared conversation, and the ways models take part in it.

Every operation returns a `Run` (see run.py): an async iterator of events you can
cancel. Each event is applied to the conversation, then handed to the sinks (the audit
log, the session writer), then to whoever reads the run: one stream, no back channel.
Provider failures never raise out of an operation: they end it with `RunFailed`.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from ..context import Meter, meter
from ..conversation import Conversation
from ..events import BranchSelected, Event, ModelSelected, TurnEvent, VoteEvent
from ..models import ModelError
from ..profile import Profile, Stage
from ..routing import TASK_TYPES, classify
from ..run import Run, drain
from ..tools import ToolBox
from ..types import Message
from . import converse, pipeline, rounds
from .context import Context
from .turns import TurnRunner

Sink = Callable[[Event], None]

__all__ = ["Engine", "Run", "Sink", "drain"]


class Engine:
    def __init__(
        self,
        profile: Profile,
        *,
        env: Mapping[str, str] | None = None,
        conversation: Conversation | None = None,
        sinks: list[Sink] | None = None,
        tools: ToolBox | None = None,
        blocked: Mapping[str, str] | None = None,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_tool_steps: int = 10,
        seed: int | None = None,
    ) -> None:
        if env is None:
            from ..env import load_environment

            env = load_environment()
        self.profile = profile
        self.env = env
        self.sinks: list[Sink] = list(sinks or [])
        self.runner = TurnRunner(profile, env, max_retries=max_retries, backoff_s=backoff_s, blocked=blocked)
        self.ctx = Context(profile, env, conversation or Conversation(active_model=profile.default_model),
                           self.runner, tools, max_tool_steps, random.Random(seed))
        self.runner.spent = self.spent
        self.run: Run | None = None  # the latest run

    # ---------------------------------------------------------------- state

    @property
    def conversation(self) -> Conversation:
        return self.ctx.conversation

    @property
    def tools(self) -> ToolBox | None:
        return self.ctx.tools

    @tools.setter
    def tools(self, tools: ToolBox | None) -> None:
        self.ctx.tools = tools

    @property
    def active_model(self) -> str | None:
        return self.ctx.active_model

    def spent(self) -> float:
        """What this conversation's turns cost, as far as prices are known."""
        return sum(e.cost_usd for e in self.conversation.events if isinstance(e, TurnEvent) and e.cost_usd)

    def apply(self, event: Event) -> None:
        """An event into the conversation, then every sink: the only way state changes."""
        self.conversation.apply(event)
        for sink in self.sinks:
            sink(event)

    # ---------------------------------------------------------------- settings

    def check_model(self, ref: str) -> str:
        """`ref` if it names a model this profile can reach, else ModelError."""
        self.runner.resolve(ref)
        return ref

    def set_model(self, ref: str) -> None:
        self.apply(ModelSelected(self.check_model(ref)))

    def set_mode(self, mode: str) -> None:
        if mode == "auto":
            self.profile.routing.mode = "auto"
        elif mode == "manual":
            self.profile.routing.mode = "manual"
        else:
            raise ValueError(f"routing mode must be auto or manual, not {mode!r}")

    def set_rule(self, task_type: str, model: str) -> None:
        self.profile.routing.rules[task_type] = self.check_model(model)

    def task_types(self) -> list[str]:
        return list(dict.fromkeys([*TASK_TYPES, *self.profile.routing.tasks, *self.profile.routing.rules]))

    async def cancel(self) -> None:
        """Stop the latest run, if it is still going; returns once its partials are kept."""
        if self.run is not None:
            await self.run.cancel()

    async def aclose(self) -> None:
        await self.cancel()
        await self.runner.aclose()

    # -------------------------------------------------------------- operations

    def _start(self, events: AsyncGenerator[Event, None]) -> Run:
        self.run = Run(events, self.conversation, self.apply)
        return self.run

    def send(self, text: str) -> Run:
        """The person's message, answered by the active model or the routed one."""
        return self._start(converse.send(self.ctx, text))

    def handoff(
        self, target: str, instructions: str = "", *, back: bool = False, package: dict[str, Any] | None = None
    ) -> Run:
        """Move the conversation to `target`; with instructions, it answers them now, and
        with `back` the conversation returns to the model that handed off afterwards.
        `package` is a handoff package the person reviewed (see `package()`)."""
        return self._start(converse.user_handoff(self.ctx, target, instructions, back, package))

    def package(self, target: str, instructions: str = "") -> dict[str, Any]:
        """The handoff package a handoff to `target` would carry, for the person to review."""
        return self.ctx.package(self.active_model, target, instructions)

    def chain(self, prompt: str, models: list[str]) -> Run:
        """The first model answers and may hand off along the rest of the chain."""
        return self._start(converse.chain(self.ctx, prompt, models))

    def pipeline(self, prompt: str, stages: list[Stage] | None = None) -> Run:
        return self._start(pipeline.pipeline(self.ctx, prompt, stages or self.profile.pipeline.stages))

    def parallel(self, prompt: str, models: list[str], synthesizer: str | None = None) -> Run:
        return self._start(rounds.parallel(self.ctx, prompt, models, synthesizer))

    def consensus(self, prompt: str, models: list[str], judge: str) -> Run:
        return self._start(rounds.consensus(self.ctx, prompt, models, judge))

    def compare(self, prompt: str, models: list[str]) -> Run:
        """A blind compare: two answers as A and B, names hidden until `vote`."""
        return self._start(rounds.compare(self.ctx, prompt, models))

    def vote(self, choice: str) -> VoteEvent:
        """"A", "B" or "tie" on the latest compare: recorded, and the conversation goes on
        from the winner (A on a tie)."""
        event, winner = rounds.vote(self.ctx, choice)
        self.apply(event)
        self.apply(BranchSelected(winner))
        return event

    def compact(self, model: str | None = None) -> Run:
        """Older turns replaced by a summary (by `model`) on a new branch; originals kept."""
        return self._start(converse.compact(self.ctx, model))

    def meter(self) -> Meter | None:
        """How full the active model's context window is with the current branch."""
        model = self.active_model
        if not model:
            return None
        try:
            spec = self.runner.resolve(model)
        except ModelError:
            return None
        return meter(spec, self.ctx.main_branch(), self.ctx.system())

    def regenerate(self, model: str | None = None, question_id: str | None = None) -> Run:
        """The last question (or `question_id`, an earlier one) answered again; both answers
        stay, the new one is shown and the conversation goes on from it."""
        return self._start(converse.regenerate(self.ctx, model, question_id))

    def edit(self, question_id: str, text: str) -> Run:
        """`text` asked in place of an earlier question, on a new branch."""
        return self._start(converse.edit(self.ctx, question_id, text))

    def select(self, leaf: str | None) -> None:
        """Go on from another branch (an alternative, a picked round answer, /tree)."""
        if leaf is not None and leaf not in self.conversation.nodes:
            raise ValueError("no such message in this conversation")
        self.apply(BranchSelected(leaf))

    def pick(self, n: int) -> Message:
        """Go on from answer `n` (1-based, in the round's order) of the latest round alone."""
        conversation = self.conversation
        for message in reversed(conversation.path()):
            answers = [conversation.nodes[c] for c in conversation.children.get(message.id, ())
                       if conversation.nodes[c].lane not in (None, "judge") and not conversation.nodes[c].partial]
            if answers:
                if not 1 <= n <= len(answers):
                    raise ValueError(f"the last round has answers 1 to {len(answers)}")
                picked = answers[n - 1]
                task_type, _ = classify(message.content, self.profile)
                self.apply(VoteEvent("pick", picked.model or "", tuple(a.model or "" for a in answers
                                                                      if a is not picked), False, task_type,
                                     at=message.id))
                self.select(picked.id)
                return picked
        raise ValueError("no round to pick from: /parallel or /consensus first")

