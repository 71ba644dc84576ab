"""Pieces of parallel and consensus rounds: merging lanes, judging, checking stages."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from .profile import Stage

_DONE = object()


async def merge(lanes: dict[str, AsyncIterator[Any]]) -> AsyncIterator[tuple[str, Any]]:
    """Run several async iterators at once; yield (lane, event) as each arrives.

    Closing or cancelling the merged iterator cancels every lane, which closes their
    HTTP streams. A lane that raises yields (lane, the exception) and ends.
    """
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(lane: str, it: AsyncIterator[Any]) -> None:
        try:
            async for ev in it:
                await queue.put((lane, ev))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # reported to the round as that lane's failure
            await queue.put((lane, e))
        finally:
            queue.put_nowait((lane, _DONE))

    tasks = [asyncio.create_task(pump(lane, it)) for lane, it in lanes.items()]
    remaining = len(tasks)
    try:
        while remaining:
            lane, ev = await queue.get()
            if ev is _DONE:
                remaining -= 1
                continue
            yield lane, ev
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def judge_prompt(question: str, labelled: list[tuple[str, str]]) -> str:
    parts = [
        "Several assistants answered the question below. Judge the answers on correctness, "
        "completeness and clarity. The answers are anonymous and in random order.",
        f"Question:\n{question}",
    ]
    parts += [f"Answer {label}:\n{text}" for label, text in labelled]
    letters = " > ".join(label for label, _ in labelled)
    parts.append(
        "Reply with one line of the form\nRANKING: " + letters + "\n"
        "listing every answer's letter from best to worst, then one sentence on why."
    )
    return "\n\n".join(parts)


def parse_ranking(text: str, labels: list[str]) -> list[str]:
    """Labels best first, read robustly from a judge's free text; labels the judge left
    out follow in their given order."""
    found = read_ranking(text, labels)
    return found + [label for label in labels if label not in found]


def read_ranking(text: str, labels: list[str]) -> list[str]:
    """The labels the judge ranked, best first: from a RANKING: line, else a JSON object
    with "ranking", else the order in which "Answer X" is first mentioned."""
    valid = set(labels)
    found: list[str] = []

    def take(candidates: list[str]) -> None:
        for c in candidates:
            c = c.strip().upper()
            if c.startswith("ANSWER "):
                c = c[7:].strip()
            if c in valid and c not in found:
                found.append(c)

    for line in text.splitlines():
        m = re.search(r"rank(?:ing)?\s*[:=-]\s*(.+)", line, re.IGNORECASE)
        if m:
            take(re.findall(r"\b([A-Z])\b", m.group(1).upper()))
            if found:
                break
    if not found:
        for m in re.finditer(r"\{[^{}]*\}", text):
            try:
                data = json.loads(m.group(0))
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("ranking"), list):
                take([str(x) for x in data["ranking"]])
                break
    if not found:
        take(re.findall(r"\banswer\s+([A-Za-z])\b", text, re.IGNORECASE))
    return found


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
        except ValueError as e:
            return f"output is not valid JSON ({e.msg} at line {e.lineno})"
        return None
    if criterion.startswith("regex:"):
        pattern = criterion[6:]
        return None if re.search(pattern, text, re.MULTILINE) else f"output does not match /{pattern}/"
    return f"unknown criterion {criterion!r}"


def yes_no(text: str) -> bool:
    return bool(re.match(r"\W*yes\b", text.strip(), re.IGNORECASE))
