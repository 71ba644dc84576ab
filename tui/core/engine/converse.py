"""The conversation itself: a message answered, a handoff by the person or by a model,
a chain, and the tool loop that runs until the model answers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator
from typing import Any

from ..conversation import Conversation
from ..events import (
    BranchSelected,
    CompactEvent,
    ConsultEvent,
    Event,
    HandoffEvent,
    MessageAdded,
    ModelSelected,
    RouteEvent,
    RunFailed,
    RunFinished,
    ToolCallEvent,
    ToolProgress,
    ToolStarted,
    TurnFinished,
)
from ..handoff import consult_spec, consult_tools, handoff_note, transfer_spec, transfer_tools
from ..history import shape_context
from ..models import ModelError
from ..routing import route
from ..tools import ToolBox, ToolResult
from ..types import Message, ToolSpec
from .context import ROOT, Context
from .turns import collect

MAX_HANDOFFS = 6


async def send(ctx: Context, text: str) -> AsyncGenerator[Event, None]:
    """The person's message, answered by the active model or the routed one."""
    yield ctx.add(Message("user", text))
    if ctx.profile.routing.mode == "auto":
        try:
            choice = route(text, ctx.profile, ctx.env)
        except ModelError as e:
            yield RunFailed(str(e))
            return
        yield RouteEvent(choice.task_type, choice.model, choice.reason)
        model = choice.model
    else:
        active = ctx.active_model
        if not active:
            yield RunFailed("no model selected: use /model provider/model, or set default_model in the profile")
            return
        model = active
    async for ev in converse(ctx, model, ctx.profile.handoff.targets):
        yield ev


async def user_handoff(
    ctx: Context, target: str, instructions: str, back: bool = False, package: dict[str, Any] | None = None
) -> AsyncGenerator[Event, None]:
    """Move the conversation to `target`; with instructions, it answers them now (and,
    with `back` or `[handoff] handback`, the conversation returns when it is done)."""
    try:
        ctx.runner.resolve(target)
    except ModelError as e:
        yield RunFailed(str(e))
        return
    source = ctx.active_model
    warning = ctx.window_warning(target)
    if warning is not None:
        yield warning
    if package is None:
        package = ctx.package(source, target, instructions)
    else:  # the person reviewed and edited it
        instructions = str(package.get("instructions", instructions))
    yield HandoffEvent(source or "user", target, "user", instructions, package, at=ctx.conversation.leaf)
    if not instructions:
        yield RunFinished("", target)
        return
    h = ctx.profile.handoff
    base = shape_context(ctx.main_branch(), h.context, h.recent_turns)
    yield ctx.add(Message("user", instructions))
    turn = converse(ctx, target, h.targets, note=handoff_note(package), history_base=base)
    async for ev in _handing_back(ctx, turn, target, source, back or h.handback):
        yield ev


async def _handing_back(
    ctx: Context, events: AsyncGenerator[Event, None], target: str, source: str | None, back: bool
) -> AsyncGenerator[Event, None]:
    """The target's turn; when it ends well and `back` is set, the conversation returns to `source`."""
    async for ev in events:
        if isinstance(ev, RunFinished) and back and source and source != target:
            yield HandoffEvent(ev.model, source, "handback", "", {"target_model": source, "source_model": ev.model},
                               at=ctx.conversation.leaf)
        yield ev


async def chain(ctx: Context, prompt: str, models: list[str]) -> AsyncGenerator[Event, None]:
    """The first model answers and may hand off along the rest of the chain."""
    yield ctx.add(Message("user", prompt))
    yield ModelSelected(models[0])
    async for ev in converse(ctx, models[0], models[1:], chain_models=models):
        yield ev


async def converse(
    ctx: Context,
    model: str,
    targets: list[str],
    *,
    note: str | None = None,
    history_base: list[Message] | None = None,
    chain_models: list[str] | None = None,
    depth: int = 0,
) -> AsyncGenerator[Event, None]:
    """`model` answers, running tools until it replies; a transfer_to_* call moves the
    rest of the run to the target (the first such call in a turn wins)."""
    others = [t for t in targets if t != model]
    transfers = transfer_tools(others)
    consults = consult_tools(others) if chain_models is None else {}
    specs: tuple[ToolSpec, ...] = (
        tuple(ctx.tools.specs() if ctx.tools else ())
        + tuple(transfer_spec(name, target) for name, target in transfers.items())
        + tuple(consult_spec(name, target) for name, target in consults.items())
    )
    extra, notice = ctx.hosted(model)
    if notice:
        yield notice
    start = ctx.conversation.leaf  # the request being answered
    for _ in range(ctx.max_tool_steps + 1):
        branch = ctx.conversation.path()
        history = branch
        if history_base is not None:
            ids = [m.id for m in branch]
            history = history_base + branch[ids.index(start):] if start in ids else history_base
        parent = ctx.conversation.leaf
        got: list[TurnFinished] = []
        turn = ctx.runner.answer(model, history, parent=parent, system=ctx.system(note), tools=specs,
                                 extra=(lambda _s: extra) if extra else None, validate=chain_models is not None)
        async for ev in collect(turn, got):
            yield ev
        result = got[-1]
        if not result.ok:
            yield RunFailed(result.error or "the model failed")
            return
        answer = ctx.add(Message("assistant", result.text, result.model, result.tool_calls,
                                 reasoning=result.reasoning, thinking=result.thinking), parent=parent)
        yield answer
        for server, tool, arguments, output in result.server_tools:  # run by the provider, shown here
            yield ToolCallEvent(result.model, server, tool, arguments, output[:4000])
        if not result.tool_calls:
            async for ev in ctx.problems():
                yield ev
            yield RunFinished(result.text, result.model)
            return
        transfer = next((c for c in result.tool_calls if c.name in transfers), None)
        if transfer is not None:
            target = transfers[transfer.name]
            for c in result.tool_calls:
                reply = f"Handed off to {target}." if c is transfer else "Not run: the conversation was handed off."
                yield ctx.add(Message("tool", reply, tool_call_id=c.id, tool_name=c.name))
            instructions = str(transfer.arguments.get("instructions", ""))
            reason = str(transfer.arguments.get("reason", "")) or "tool"
            package = ctx.package(result.model, target, instructions)
            yield HandoffEvent(result.model, target, "chain" if chain_models else "tool", instructions,
                               {**package, "reason": reason}, at=answer.message.id)
            warning = ctx.window_warning(target)
            if warning is not None:
                yield warning
            if depth + 1 >= MAX_HANDOFFS:
                yield RunFailed(f"stopped after {MAX_HANDOFFS} handoffs in one run")
                return
            next_targets = (chain_models[chain_models.index(target) + 1:]
                            if chain_models and target in chain_models else targets)
            turn = converse(ctx, target, next_targets, note=handoff_note(package), chain_models=chain_models,
                            depth=depth + 1)
            async for ev in _handing_back(ctx, turn, target, result.model,
                                          ctx.profile.handoff.handback and not chain_models):
                yield ev
            return
        for call in result.tool_calls:
            started = time.monotonic()
            if call.name in consults:
                answer_text = ""
                async for ev in _consult(ctx, result.model, consults[call.name], call.arguments, answer):
                    if isinstance(ev, ConsultEvent):
                        answer_text = ev.answer if ev.error is None else f"consult failed: {ev.error}"
                    yield ev
                yield ctx.add(Message("tool", answer_text, tool_call_id=call.id, tool_name=call.name,
                                      is_error=not answer_text or answer_text.startswith("consult failed")))
                continue
            owner = ctx.tools.owner(call.name) if ctx.tools is not None else None
            if ctx.tools is not None and owner is not None:
                yield ToolStarted(result.model, owner[0], owner[1])
                outcome = ToolResult(owner[0], owner[1], "")
                async for step in _run_tool(ctx.tools, call.name, call.arguments, owner[1]):
                    if isinstance(step, ToolResult):
                        outcome = step
                    else:
                        yield step
            else:
                outcome = ToolResult("", call.name, f"unknown tool {call.name!r}", is_error=True)
            ran = time.monotonic() - started - outcome.waited_s  # the person's time deciding is not the tool's
            yield ToolCallEvent(result.model, outcome.server, outcome.tool, call.arguments, outcome.text[:4000],
                                outcome.text if outcome.is_error else None, round(max(ran, 0.0), 3),
                                call_id=call.id)
            yield ctx.add(Message("tool", outcome.text, tool_call_id=call.id, tool_name=call.name,
                                  is_error=outcome.is_error, media=outcome.media))
        async for ev in ctx.problems():
            yield ev  # a server that died is reported once; the chat goes on
        model = result.model
    yield RunFailed(f"stopped after {ctx.max_tool_steps} tool steps without an answer")


async def regenerate(ctx: Context, model: str | None, question_id: str | None = None) -> AsyncGenerator[Event, None]:
    """A question answered again (the last one, or `question_id`) by `model`, else by who
    answered it; the old answer stays as an alternative and the conversation goes on from
    the new one (a new branch from the question: what followed it stays in the tree)."""
    question, answer = _answered(ctx.conversation, question_id)
    if question is None or (answer is None and question_id is None):
        yield RunFailed("nothing to regenerate yet: send a message first" if question_id is None
                        else "only a question of yours can be answered again")
        return
    answered_by = answer.model if answer is not None else None
    who = model or (answered_by if _reachable(ctx, answered_by) else None) or ctx.active_model
    if not who:
        yield RunFailed("no model to answer: /regen MODEL")
        return
    if model and not _reachable(ctx, model):
        try:
            ctx.runner.resolve(model)
        except ModelError as e:
            yield RunFailed(str(e))
            return
    yield BranchSelected(question.id)
    async for ev in converse(ctx, who, ctx.profile.handoff.targets):
        yield ev


async def edit(ctx: Context, question_id: str, text: str) -> AsyncGenerator[Event, None]:
    """A question asked anew in place of an earlier one: a new branch from just before it;
    the old branch stays in the tree."""
    original = ctx.conversation.nodes.get(question_id)
    if original is None or original.role != "user":
        yield RunFailed("only a question of yours can be edited")
        return
    yield BranchSelected(original.parent)
    async for ev in send(ctx, text):
        yield ev


def _answered(conversation: Conversation, question_id: str | None) -> tuple[Message | None, Message | None]:
    """The question to answer again and the answer it has: the last of the branch, or the
    question `question_id` with its answer on the branch (else its latest one)."""
    branch = conversation.path()
    if question_id is None:
        return (next((m for m in reversed(branch) if m.role == "user"), None),
                next((m for m in reversed(branch) if m.role == "assistant"), None))
    question = conversation.nodes.get(question_id)
    if question is None or question.role != "user":
        return None, None
    ids = [m.id for m in branch]
    after = branch[ids.index(question_id) + 1:] if question_id in ids else []
    answer = next((m for m in after if m.role == "assistant" and m.lane is None), None)
    if answer is None:
        answer = next((conversation.nodes[c] for c in reversed(conversation.children.get(question_id, ()))
                       if conversation.nodes[c].role == "assistant"), None)
    return question, answer


def _reachable(ctx: Context, model: str | None) -> bool:
    if not model:
        return False
    try:
        ctx.runner.resolve(model)
    except ModelError:
        return False
    return True


async def _consult(
    ctx: Context, caller: str, target: str, arguments: dict[str, object], asking: MessageAdded
) -> AsyncGenerator[Event, None]:
    """`target` answers the caller's question once, seeing the conversation so far; the
    caller keeps control. Ends with a ConsultEvent carrying the answer or the error."""
    question = str(arguments.get("question", "")).strip()
    started = time.monotonic()
    if not question:
        yield ConsultEvent(caller, target, "", error="no question given")
        return
    h = ctx.profile.handoff
    before = [m for m in ctx.main_branch() if m.id != asking.message.id]
    history = shape_context(before, h.context, h.recent_turns) + [
        Message("user", f"{caller} asks you, as a second opinion:\n{question}")]
    got: list[TurnFinished] = []
    turn = ctx.runner.answer(target, history, parent=ctx.conversation.leaf, system=ctx.system(), purpose="consult")
    async for ev in collect(turn, got):
        yield ev
    done = got[-1]
    yield ConsultEvent(caller, target, question, done.text if done.ok else "", done.usage.to_dict(), done.cost_usd,
                       round(time.monotonic() - started, 3), None if done.ok else (done.error or "failed"))


KEEP_TURNS = 2


async def compact(ctx: Context, model: str | None) -> AsyncGenerator[Event, None]:
    """Older turns summarised by `model` (default: the cheapest priced model of the profile)
    into one message that starts a new branch with the last turns after it; the next
    request is shorter, and the originals stay in the session."""
    branch = ctx.main_branch()
    starts = [i for i, m in enumerate(branch) if m.role == "user"]
    if len(starts) <= KEEP_TURNS:
        yield RunFailed(f"nothing to compact: the conversation has {len(starts)} turns or fewer")
        return
    cut = starts[-KEEP_TURNS]
    older, recent = branch[:cut], branch[cut:]
    who = model or cheapest(ctx) or ctx.active_model
    if not who or not _reachable(ctx, who):
        yield RunFailed(f"no model to write the summary{f': {who} is not reachable' if who else ''}: /compact M")
        return
    started = time.monotonic()
    ask = [*older, Message("user", "Summarise the conversation above for a model that will carry it on: the "
                                   "task, decisions, facts and open questions, as short as it can be while "
                                   "losing nothing needed. Write only the summary.")]
    got: list[TurnFinished] = []
    async for ev in collect(ctx.runner.answer(who, ask, parent=ctx.conversation.leaf, purpose="summary"), got):
        yield ev
    done = got[-1]
    if not done.ok:
        yield RunFailed(f"the summary failed: {done.error}")
        return
    summary = ctx.add(Message("user", f"[Summary of {len(older)} earlier messages, by {done.model}]\n{done.text}"),
                      parent=ROOT)
    yield summary
    parent = summary.message.id
    for m in recent:  # the last turns again, on the new branch
        copy = ctx.add(dataclasses.replace(m, id="", parent=None), parent=parent)
        yield copy
        parent = copy.message.id
    yield CompactEvent(done.model, len(older), len(recent), done.usage.to_dict(), done.cost_usd,
                       round(time.monotonic() - started, 3), at=summary.message.id)
    yield RunFinished(done.text, done.model)


def cheapest(ctx: Context) -> str | None:
    """The profile's model with the lowest known output price (a summary is mostly reading)."""
    priced = [(d.output_price, name) for name, d in ctx.profile.models.items() if d.output_price is not None]
    return min(priced)[1] if priced else None


async def _run_tool(
    tools: ToolBox, name: str, arguments: dict[str, Any], tool: str
) -> AsyncGenerator[ToolProgress | ToolResult, None]:
    """A tool call, passing on its progress as it comes; ends with its result."""
    progress: asyncio.Queue[ToolProgress] = asyncio.Queue()

    def report(done: float, total: float | None, message: str | None) -> None:
        progress.put_nowait(ToolProgress(tool, done, total, message))

    task = asyncio.ensure_future(tools.call(name, arguments, on_progress=report))
    try:
        while not task.done():
            waiter = asyncio.ensure_future(progress.get())
            await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
            if waiter.done():
                yield waiter.result()
            else:
                waiter.cancel()
        while not progress.empty():
            yield progress.get_nowait()
        yield task.result()
    finally:
        task.cancel()
