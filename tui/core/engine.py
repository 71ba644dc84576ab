"""The engine: one shared conversation, and the ways models take part in it.

Every operation returns an async iterator of events (see events.py). The engine records
timeline events into the conversation and the audit log as they pass, appends messages
as turns complete, and keeps what was streamed when a run is cancelled. Provider failures
never raise out of an operation: they end it with `RunFailed`.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .audit import AuditLog
from .conversation import Conversation
from .events import (
    ConsensusEvent,
    Event,
    HandoffEvent,
    NoticeEvent,
    ParallelEvent,
    RouteEvent,
    RunFailed,
    RunFinished,
    StageEvent,
    TimelineEvent,
    ToolCallEvent,
    TurnEvent,
    ValidationEvent,
)
from .handoff import build_package, handoff_note, original_task, shape_context, transfer_spec, transfer_tools
from .models import ModelError, resolve_model
from .profile import Profile, Stage
from .rounds import check_output, judge_prompt, merge, parse_ranking, read_ranking, stage_prompt, yes_no
from .routing import TASK_TYPES, route
from .tools import ToolBox, ToolResult
from .turns import Caller, Outcome, TurnResult
from .types import Message, Usage

MAX_HANDOFFS = 6


class Engine:
    def __init__(
        self,
        profile: Profile,
        *,
        env: Mapping[str, str] | None = None,
        conversation: Conversation | None = None,
        audit: AuditLog | None = None,
        tools: ToolBox | None = None,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_tool_steps: int = 10,
        seed: int | None = None,
    ) -> None:
        if env is None:
            from .env import load_environment

            env = load_environment()
        self.profile = profile
        self.env = env
        self.conversation = conversation or Conversation(active_model=profile.default_model)
        self.audit = audit
        self.tools = tools
        self.max_tool_steps = max_tool_steps
        self.caller = Caller(profile, env, max_retries=max_retries, backoff_s=backoff_s)
        self.last_route: RouteEvent | None = None
        self._rng = random.Random(seed)
        self._noticed: set[str] = set()

    # ---------------------------------------------------------------- settings

    @property
    def active_model(self) -> str | None:
        return self.conversation.active_model or self.profile.default_model

    def check_model(self, ref: str) -> str:
        """`ref` if it names a model this profile can reach, else ModelError."""
        resolve_model(ref, self.profile, self.env)
        return ref

    def set_model(self, ref: str) -> None:
        self.conversation.active_model = self.check_model(ref)

    def set_mode(self, mode: str) -> None:
        if mode not in ("auto", "manual"):
            raise ValueError(f"routing mode must be auto or manual, not {mode!r}")
        self.profile.routing.mode = mode  # type: ignore[assignment]

    def set_rule(self, task_type: str, model: str) -> None:
        self.profile.routing.rules[task_type] = self.check_model(model)

    def task_types(self) -> list[str]:
        return list(dict.fromkeys([*TASK_TYPES, *self.profile.routing.tasks, *self.profile.routing.rules]))

    def clear(self) -> None:
        self.conversation.messages.clear()
        self.conversation.events.clear()

    def snapshot(self) -> Conversation:
        """A copy of the conversation with answers still streaming kept as partial."""
        snap = Conversation(
            list(self.conversation.messages),
            list(self.conversation.events),
            self.conversation.active_model,
            self.conversation.title,
        )
        for lane, flight in list(self.caller.inflight.items()):
            if flight.chunks:
                snap.messages.append(Message("assistant", flight.text, flight.model, partial=True, lane=lane))
        return snap

    async def aclose(self) -> None:
        await self.caller.aclose()
        if self.audit is not None:
            self.audit.close()

    # -------------------------------------------------------------- operations

    def send(self, text: str) -> AsyncIterator[Event]:
        """The person's message, answered by the active model or the routed one."""
        return self._run(self._send(text))

    def handoff(self, target: str, instructions: str = "") -> AsyncIterator[Event]:
        """Move the conversation to `target`; with instructions, it answers them now."""
        return self._run(self._user_handoff(target, instructions))

    def chain(self, prompt: str, models: list[str]) -> AsyncIterator[Event]:
        """The first model answers and may hand off along the rest of the chain."""
        return self._run(self._chain(prompt, models))

    def pipeline(self, prompt: str, stages: list[Stage] | None = None) -> AsyncIterator[Event]:
        return self._run(self._pipeline(prompt, stages or self.profile.pipeline.stages))

    def parallel(self, prompt: str, models: list[str], synthesizer: str | None = None) -> AsyncIterator[Event]:
        return self._run(self._parallel(prompt, models, synthesizer))

    def consensus(self, prompt: str, models: list[str], judge: str) -> AsyncIterator[Event]:
        return self._run(self._consensus(prompt, models, judge))

    # ------------------------------------------------------------- recording

    def _record(self, ev: TimelineEvent) -> None:
        record = ev.to_record()
        self.conversation.events.append(record)
        if self.audit is not None:
            self.audit.write(record)

    def _append(self, message: Message) -> None:
        self.conversation.messages.append(message)

    async def _run(self, inner: AsyncIterator[Any]) -> AsyncIterator[Event]:
        usage, cost = Usage(), None
        try:
            async for ev in inner:
                if isinstance(ev, TimelineEvent):
                    self._record(ev)
                    if isinstance(ev, TurnEvent):
                        usage += Usage(ev.usage.get("input_tokens", 0), ev.usage.get("output_tokens", 0))
                        if ev.cost_usd is not None:
                            cost = (cost or 0.0) + ev.cost_usd
                        if ev.partial:
                            self._append(Message("assistant", ev.text, ev.model, partial=True, lane=ev.lane))
                if isinstance(ev, RunFinished):
                    ev = RunFinished(ev.final_output, ev.model, usage, cost)
                yield ev
        finally:
            await inner.aclose()
            # Cancelled mid-stream: what arrived stays in the conversation, marked.
            for lane, flight in self.caller.cancelled:
                self._append(Message("assistant", flight.text, flight.model, partial=True, lane=lane))
                self._record(TurnEvent(flight.model, flight.text, finish_reason="cancelled", partial=True,
                                       lane=lane, purpose=flight.purpose))
            self.caller.cancelled.clear()

    # ---------------------------------------------------------- conversation

    async def _send(self, text: str) -> AsyncIterator[Any]:
        self._append(Message("user", text))
        if self.profile.routing.mode == "auto":
            try:
                choice = route(text, self.profile, self.env)
            except ModelError as e:
                yield RunFailed(str(e))
                return
            ev = RouteEvent(choice.task_type, choice.model, choice.reason)
            self.last_route = ev
            yield ev
            model = choice.model
        else:
            model = self.active_model
            if not model:
                yield RunFailed("no model selected: use /model provider/model, or set default_model in the profile")
                return
        async for ev in self._converse(model, self.profile.handoff.targets):
            yield ev

    async def _user_handoff(self, target: str, instructions: str) -> AsyncIterator[Any]:
        try:
            self.check_model(target)
        except ModelError as e:
            yield RunFailed(str(e))
            return
        source = self.active_model
        package = self._package(source, target, instructions)
        yield HandoffEvent(source or "user", target, "user", instructions, package,
                           at=len(self.conversation.messages))
        self.conversation.active_model = target
        if not instructions:
            yield RunFinished("", target)
            return
        history = self._handoff_history()
        self._append(Message("user", instructions))
        async for ev in self._converse(target, self.profile.handoff.targets, note=handoff_note(package),
                                       history_base=history):
            yield ev

    async def _chain(self, prompt: str, models: list[str]) -> AsyncIterator[Any]:
        self._append(Message("user", prompt))
        self.conversation.active_model = models[0]
        async for ev in self._converse(models[0], models[1:], chain=models):
            yield ev

    def _package(self, source: str | None, target: str, instructions: str) -> dict[str, Any]:
        h = self.profile.handoff
        msgs = [m for m in self.conversation.messages if m.lane is None]
        shaped = shape_context(msgs, h.context, h.recent_turns)
        if h.context == "summary":
            context: Any = {"mode": "summary", "summary": shaped[0].content if shaped else ""}
        else:
            context = {"mode": h.context, "messages": len(shaped), "of": len(msgs)}
        return build_package(original_task(msgs), context, source, target, instructions, self.profile)

    def _handoff_history(self) -> list[Message]:
        h = self.profile.handoff
        return shape_context([m for m in self.conversation.messages if m.lane is None], h.context, h.recent_turns)

    def _system(self, note: str | None) -> str | None:
        parts = [p for p in (self.profile.system_prompt, note) if p]
        return "\n\n".join(parts) or None

    def _hosted(self, model: str) -> tuple[dict[str, Any], NoticeEvent | None]:
        slugs = self.tools.hosted_slugs() if self.tools else []
        if not slugs:
            return {}, None
        try:
            spec = resolve_model(model, self.profile, self.env)
        except ModelError:
            return {}, None
        if spec.provider.name == "dedalus":
            return {"mcp_servers": slugs}, None
        if model in self._noticed:
            return {}, None
        self._noticed.add(model)
        return {}, NoticeEvent(f"hosted MCP servers ({', '.join(slugs)}) are unavailable for {model}: "
                               "only the dedalus provider runs them")

    async def _converse(
        self,
        model: str,
        targets: list[str],
        *,
        note: str | None = None,
        history_base: list[Message] | None = None,
        chain: list[str] | None = None,
        depth: int = 0,
    ) -> AsyncIterator[Any]:
        """`model` answers, running tools until it replies; a transfer_to_* call moves
        the rest of the run to the target (the first such call in a turn wins)."""
        transfers = transfer_tools([t for t in targets if t != model])
        specs = tuple(self.tools.specs() if self.tools else ()) + tuple(
            transfer_spec(name, target) for name, target in transfers.items()
        )
        extra, notice = self._hosted(model)
        if notice:
            yield notice
        mark = len(self.conversation.messages)
        for _ in range(self.max_tool_steps + 1):
            history = self.conversation.messages
            if history_base is not None:
                history = history_base + self.conversation.messages[mark - 1:]
            got = Outcome()
            answer = self.caller.answer(model, history, system=self._system(note), tools=specs,
                                        extra=(lambda _s: extra) if extra else None, validate=chain is not None)
            async for ev in got.collect(answer):
                yield ev
            result = got.result
            assert result is not None
            if not result.ok:
                yield RunFailed(result.error or "the model failed")
                return
            self._append(Message("assistant", result.text, result.model, result.tool_calls))
            if not result.tool_calls:
                yield RunFinished(result.text, result.model)
                return
            transfer = next((c for c in result.tool_calls if c.name in transfers), None)
            if transfer is not None:
                target = transfers[transfer.name]
                for c in result.tool_calls:
                    reply = f"Handed off to {target}." if c is transfer else "Not run: the conversation was handed off."
                    self._append(Message("tool", reply, tool_call_id=c.id, tool_name=c.name))
                instructions = str(transfer.arguments.get("instructions", ""))
                reason = str(transfer.arguments.get("reason", "")) or "tool"
                package = self._package(result.model, target, instructions)
                yield HandoffEvent(result.model, target, "chain" if chain else "tool", instructions,
                                   {**package, "reason": reason})
                self.conversation.active_model = target
                if depth + 1 >= MAX_HANDOFFS:
                    yield RunFailed(f"stopped after {MAX_HANDOFFS} handoffs in one run")
                    return
                next_targets = chain[chain.index(target) + 1:] if chain and target in chain else targets
                async for ev in self._converse(target, next_targets, note=handoff_note(package), chain=chain,
                                               depth=depth + 1):
                    yield ev
                return
            for call in result.tool_calls:
                started = time.monotonic()
                if self.tools is not None and self.tools.owner(call.name) is not None:
                    outcome = await self.tools.call(call.name, call.arguments)
                else:
                    outcome = ToolResult("", call.name, f"unknown tool {call.name!r}", is_error=True)
                yield ToolCallEvent(result.model, outcome.server, outcome.tool, call.arguments, outcome.text[:4000],
                                    outcome.text if outcome.is_error else None,
                                    round(time.monotonic() - started, 3))
                self._append(Message("tool", outcome.text, tool_call_id=call.id, tool_name=call.name,
                                     is_error=outcome.is_error))
            for problem in self.tools.problems() if self.tools is not None else ():
                yield NoticeEvent(problem)  # a server that died is reported once; the chat goes on
            model = result.model
        yield RunFailed(f"stopped after {self.max_tool_steps} tool steps without an answer")

    # ---------------------------------------------------------------- rounds

    async def _round(self, prompt: str, models: list[str], results: dict[str, TurnResult]) -> AsyncIterator[Any]:
        """The person's prompt, then every model answering it at once, each in its lane."""
        self._append(Message("user", prompt))
        history = [m for m in self.conversation.messages if m.lane is None]
        lanes = {
            m: self.caller.answer(m, history, system=self._system(None), lane=m) for m in dict.fromkeys(models)
        }
        async for lane, ev in merge(lanes):
            if isinstance(ev, TurnResult):
                results[lane] = ev
            elif isinstance(ev, Exception):
                results[lane] = TurnResult(lane, ok=False, error=f"{type(ev).__name__}: {ev}")
            else:
                yield ev
        for lane in lanes:
            r = results.get(lane)
            if r is not None and r.ok:
                self._append(Message("assistant", r.text, r.model, lane=lane))

    async def _parallel(self, prompt: str, models: list[str], synthesizer: str | None) -> AsyncIterator[Any]:
        if not models:
            yield RunFailed("a parallel round needs at least one model")
            return
        started = time.monotonic()
        results: dict[str, TurnResult] = {}
        async for ev in self._round(prompt, models, results):
            yield ev
        answers = {m: r.text for m, r in results.items() if r.ok}
        errors = {m: r.error or "failed" for m, r in results.items() if not r.ok}
        if not answers:
            yield ParallelEvent(tuple(models), {}, errors, latency_s=round(time.monotonic() - started, 3))
            yield RunFailed("every model in the round failed: " + "; ".join(f"{m}: {e}" for m, e in errors.items()))
            return
        synthesis = None
        if synthesizer:
            listing = "\n\n".join(f"Answer from {m}:\n{a}" for m, a in answers.items())
            ask = (f"Question:\n{prompt}\n\n{listing}\n\n"
                   "Synthesise these answers into one best answer. Keep what they agree on, resolve "
                   "disagreements, and do not mention the individual answers.")
            got = Outcome()
            answer = self.caller.answer(synthesizer, [Message("user", ask)], system=self._system(None),
                                        purpose="synthesis", validate=True)
            async for ev in got.collect(answer):
                yield ev
            result = got.result
            if result is not None and result.ok:
                synthesis = result.text
                synthesizer = result.model
            else:
                errors[synthesizer] = result.error if result else "failed"
        latency = round(time.monotonic() - started, 3)
        yield ParallelEvent(tuple(models), answers, errors, synthesizer, synthesis, latency)
        if synthesis is not None:
            final, by = synthesis, synthesizer
        else:
            final = "\n\n".join(f"## {m}\n\n{a}" for m, a in answers.items())
            by = "+".join(answers)
        self._append(Message("assistant", final, by))
        yield RunFinished(final, by)

    async def _consensus(self, prompt: str, models: list[str], judge: str) -> AsyncIterator[Any]:
        if not models or not judge:
            yield RunFailed("a consensus round needs models and a judge")
            return
        started = time.monotonic()
        results: dict[str, TurnResult] = {}
        async for ev in self._round(prompt, models, results):
            yield ev
        answers = {m: r.text for m, r in results.items() if r.ok}
        if not answers:
            yield RunFailed("every model in the round failed: "
                            + "; ".join(f"{m}: {r.error}" for m, r in results.items()))
            return
        order = list(answers)
        self._rng.shuffle(order)
        labels = {chr(ord("A") + i): m for i, m in enumerate(order)}
        ask = judge_prompt(prompt, [(label, answers[m]) for label, m in labels.items()])
        got = Outcome()
        async for ev in got.collect(self.caller.answer(judge, [Message("user", ask)], purpose="judge")):
            yield ev
        judged = got.result
        if judged is not None and judged.ok:
            ranking = [labels[lb] for lb in parse_ranking(judged.text, list(labels))]
            judge_output = judged.text
            if not read_ranking(judged.text, list(labels)):
                yield NoticeEvent(f"judge {judged.model} gave no ranking Baton could read; "
                                  "the answers keep their shuffled order")
        else:
            ranking = order
            judge_output = ""
            yield NoticeEvent(f"judge {judge} failed ({judged.error if judged else 'no answer'}); "
                              "answers left unranked")
        if judge_output:
            self._append(Message("assistant", judge_output, judged.model if judged else judge, lane="judge"))
        winner = ranking[0]
        yield ConsensusEvent(tuple(models), judge, tuple(ranking), winner, answers, labels, judge_output,
                             round(time.monotonic() - started, 3))
        self._append(Message("assistant", answers[winner], winner))
        yield RunFinished(answers[winner], winner)

    async def _pipeline(self, prompt: str, stages: list[Stage]) -> AsyncIterator[Any]:
        if not stages:
            yield RunFailed("the pipeline has no stages: give --pipeline M1,M2 or [[pipeline.stages]]")
            return
        self._append(Message("user", prompt))
        previous: str | None = None
        previous_model: str | None = None
        for index, stage in enumerate(stages, 1):
            ask = stage_prompt(stage, index, prompt, previous, previous_model)
            result = None
            for attempt in range(2):
                got = Outcome()
                answer = self.caller.answer(stage.model, [Message("user", ask)], system=self._system(None),
                                            purpose="stage", validate=True)
                async for ev in got.collect(answer):
                    yield ev
                result = got.result
                if result is None or not result.ok:
                    break
                problem = check_output(result.text, stage.validate)
                if problem is None and stage.checker:
                    problem = None
                    async for ev in self._check(stage, result.text):
                        if isinstance(ev, str):
                            problem = ev
                        else:
                            yield ev
                yield ValidationEvent(result.model, problem is None, problem or "passed")
                if problem is None:
                    break
                ask += f"\n\nYour previous output failed a check: {problem}. Answer again, meeting it."
                result = TurnResult(result.model, result.text, ok=False, error=f"stage {index}: {problem}")
            if result is None or not result.ok:
                yield RunFailed(f"stage {index} ({stage.model}) failed: {result.error if result else 'no answer'}")
                return
            self._append(Message("assistant", result.text, result.model))
            yield StageEvent(index, result.model, result.text)
            previous, previous_model = result.text, result.model
        yield RunFinished(previous or "", previous_model or stages[-1].model)

    async def _check(self, stage: Stage, output: str) -> AsyncIterator[Any]:
        """Ask the stage's checker model its yes/no question; yields a str if it says no."""
        question = stage.check_question or "Does this output fully answer the task?"
        ask = f"{question}\nAnswer yes or no, then one sentence.\n\nOutput:\n{output}"
        got = Outcome()
        answer = self.caller.answer(stage.checker or "", [Message("user", ask)], purpose="check")
        async for ev in got.collect(answer):
            yield ev
        result = got.result
        if result is None or not result.ok:
            yield f"checker {stage.checker} failed: {result.error if result else 'no answer'}"
        elif not yes_no(result.text):
            yield f"checker {stage.checker} said: {result.text.strip()[:200]}"


async def drain(events: AsyncIterator[Event]) -> list[Event]:
    """Every event of a run, in order (for scripts and tests)."""
    return [ev async for ev in events]
