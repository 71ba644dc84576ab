"""A pipeline: fixed stages, each stage's output the next one's input, each checked."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator

from ..events import Event, RunFailed, RunFinished, StageEvent, TurnFinished, ValidationEvent
from ..profile import Stage
from ..types import Message
from .context import Context
from .turns import collect


async def pipeline(ctx: Context, prompt: str, stages: list[Stage]) -> AsyncGenerator[Event, None]:
    if not stages:
        yield RunFailed("the pipeline has no stages: give --pipeline M1,M2 or [[pipeline.stages]]")
        return
    yield ctx.add(Message("user", prompt))
    previous: str | None = None
    previous_model: str | None = None
    for index, stage in enumerate(stages, 1):
        ask = stage_prompt(stage, index, prompt, previous, previous_model)
        parent = ctx.conversation.leaf
        result: TurnFinished | None = None
        for _attempt in range(2):
            got: list[TurnFinished] = []
            turn = ctx.runner.answer(stage.model, [Message("user", ask)], parent=parent, system=ctx.system(),
                                     purpose="stage", validate=True)
            async for ev in collect(turn, got):
                yield ev
            result = got[-1]
            if not result.ok:
                break
            problem = check_output(result.text, stage.validate)
            if problem is None and stage.checker:
                verdicts: list[str | None] = []
                async for ev in _check(ctx, stage, result.text, parent, verdicts):
                    yield ev
                problem = verdicts[-1] if verdicts else None
            yield ValidationEvent(result.model, problem is None, problem or "passed")
            if problem is None:
                break
            ask += f"\n\nYour previous output failed a check: {problem}. Answer again, meeting it."
            result = TurnFinished(result.model, False, result.text, error=f"stage {index}: {problem}")
        if result is None or not result.ok:
            yield RunFailed(f"stage {index} ({stage.model}) failed: {result.error if result else 'no answer'}")
            return
        answer = ctx.add(Message("assistant", result.text, result.model), parent=parent)
        yield answer
        yield StageEvent(index, result.model, result.text, at=answer.message.id)
        previous, previous_model = result.text, result.model
    yield RunFinished(previous or "", previous_model or stages[-1].model)


async def _check(
    ctx: Context, stage: Stage, output: str, parent: str | None, verdicts: list[str | None]
) -> AsyncGenerator[Event, None]:
    """Ask the stage's checker model its yes/no question; appends the reason it said no, or None."""
    question = stage.check_question or "Does this output fully answer the task?"
    ask = f"{question}\nAnswer yes or no, then one sentence.\n\nOutput:\n{output}"
    got: list[TurnFinished] = []
    turn = ctx.runner.answer(stage.checker or "", [Message("user", ask)], parent=parent, purpose="check")
    async for ev in collect(turn, got):
        yield ev
    result = got[-1]
    if not result.ok:
        verdicts.append(f"checker {stage.checker} failed: {result.error}")
    elif not yes_no(result.text):
        verdicts.append(f"checker {stage.checker} said: {result.text.strip()[:200]}")
    else:
        verdicts.append(None)


def stage_prompt(stage: Stage, index: int, task: str, previous: str | None, previous_model: str | None) -> str:
    source = task if previous is None else previous
    if stage.instructions:
        text = stage.instructions.replace("{input}", source).replace("{task}", task)
        if "{input}" not in stage.instructions and previous is not None:
            text += f"\n\nInput from the previous stage:\n{previous}"
        return text
    if previous is None:
        return task
    return (
        f"Original task: {task}\n\nOutput of the previous stage ({previous_model}):\n{previous}\n\n"
        "Carry the task forward from this output."
    )


def check_output(text: str, criterion: str | None) -> str | None:
    """None if `text` meets the stage's criterion, else the reason it does not."""
    if not criterion:
        return None
    if criterion == "nonempty":
        return None if text.strip() else "output is empty"
    if criterion == "json":
        body = text.strip()
        fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
        try:
            json.loads(fenced.group(1) if fenced else body)
        except json.JSONDecodeError as e:
            return f"output is not valid JSON ({e.msg} at line {e.lineno})"
        return None
    if criterion.startswith("regex:"):
        pattern = criterion[6:]
        return None if re.search(pattern, text, re.MULTILINE) else f"output does not match /{pattern}/"
    return f"unknown criterion {criterion!r}"


def yes_no(text: str) -> bool:
    return bool(re.match(r"\W*yes\b", text.strip(), re.IGNORECASE))
