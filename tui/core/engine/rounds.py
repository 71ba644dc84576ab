"""Parallel and consensus rounds: every model answers the same question at once, each
in its lane; then a synthesis, or a judge ranking the anonymised answers."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping

from ..events import (
    ConsensusEvent,
    Event,
    NoticeEvent,
    ParallelEvent,
    RoundEvent,
    RunFailed,
    RunFinished,
    TurnFinished,
    VoteEvent,
)
from ..routing import classify
from ..run import SLICE_S, STEP_ASIDE
from ..types import Message
from .context import Context
from .turns import collect

_DONE = object()


async def merge(lanes: Mapping[str, AsyncIterator[Event]]) -> AsyncGenerator[Event, None]:
    """Run several turns at once; yield their events as each arrives.

    Closing or cancelling the merged iterator cancels every lane, which closes their
    HTTP streams. A lane that raises ends with a failed TurnFinished of its own.
    """
    queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

    async def pump(lane: str, it: AsyncIterator[Event]) -> None:
        # A lane reads its socket for as long as it has data: a key typed meanwhile would
        # wait for all three. Only while the run's reader asks (a key on its way) does a
        # lane step aside at the end of each slice; otherwise the loop's turns stay as few.
        step_aside, clock = STEP_ASIDE.get(), time.perf_counter
        slice_end = clock() + SLICE_S
        try:
            async for ev in it:
                queue.put_nowait((lane, ev))
                if clock() > slice_end:
                    pause = step_aside()
                    if pause:
                        await asyncio.sleep(pause)
                    slice_end = clock() + SLICE_S
        except asyncio.CancelledError:
            raise
        except Exception as e:  # reported to the round as that lane's failure
            await queue.put((lane, TurnFinished(lane, False, error=f"{type(e).__name__}: {e}", lane=lane)))
        finally:
            queue.put_nowait((lane, _DONE))

    tasks = [asyncio.create_task(pump(lane, it)) for lane, it in lanes.items()]
    remaining = len(tasks)
    try:
        while remaining:
            _lane, ev = await queue.get()
            if ev is _DONE:
                remaining -= 1
                continue
            yield ev  # type: ignore[misc]  # the queue holds events and _DONE only
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _round(
    ctx: Context, kind: str, prompt: str, models: list[str], results: dict[str, TurnFinished]
) -> AsyncGenerator[Event, None]:
    """The person's prompt, then every model answering it at once, each in its lane."""
    question = ctx.add(Message("user", prompt))
    yield question
    qid = question.message.id
    yield RoundEvent(kind, tuple(models), at=qid)
    history = ctx.conversation.path()
    lanes = {lane: ctx.runner.answer(model, history, parent=qid, system=ctx.system(), lane=lane)
             for lane, model in lane_names(models).items()}
    async for ev in merge(lanes):
        if isinstance(ev, TurnFinished) and ev.lane is not None:
            results[ev.lane] = ev
        yield ev
    for lane in lanes:  # the columns in the order the models were given
        r = results.get(lane)
        if r is not None:
            results[lane] = results.pop(lane)
            if r.ok:
                yield ctx.add(Message("assistant", r.text, r.model, lane=lane), parent=qid)


def lane_names(models: list[str]) -> dict[str, str]:
    """A lane per member, in order; the same model asked twice answers in `m`, `m#2`, ...
    (sampling one strong model several times is a round of its own)."""
    lanes: dict[str, str] = {}
    for model in models:
        lane, n = model, 1
        while lane in lanes:
            n += 1
            lane = f"{model}#{n}"
        lanes[lane] = model
    return lanes


async def parallel(
    ctx: Context, prompt: str, models: list[str], synthesizer: str | None
) -> AsyncGenerator[Event, None]:
    if not models:
        yield RunFailed("a parallel round needs at least one model")
        return
    started = time.monotonic()
    results: dict[str, TurnFinished] = {}
    async for ev in _round(ctx, "parallel", prompt, models, results):
        yield ev
    qid = ctx.conversation.leaf
    answers = {m: r.text for m, r in results.items() if r.ok}
    errors = {m: r.error or "failed" for m, r in results.items() if not r.ok}
    if not answers:
        yield ParallelEvent(tuple(models), {}, errors, latency_s=round(time.monotonic() - started, 3), at=qid)
        yield RunFailed("every model in the round failed: " + "; ".join(f"{m}: {e}" for m, e in errors.items()))
        return
    synthesis = None
    if synthesizer:
        listing = "\n\n".join(f"Answer from {m}:\n{a}" for m, a in answers.items())
        ask = (f"Question:\n{prompt}\n\n{listing}\n\n"
               "Synthesise these answers into one best answer. Keep what they agree on, resolve "
               "disagreements, and do not mention the individual answers.")
        got: list[TurnFinished] = []
        turn = ctx.runner.answer(synthesizer, [Message("user", ask)], parent=qid, system=ctx.system(),
                                 purpose="synthesis", validate=True)
        async for ev in collect(turn, got):
            yield ev
        result = got[-1]
        if result.ok:
            synthesis, synthesizer = result.text, result.model
        else:
            errors[synthesizer] = result.error or "failed"
    yield ParallelEvent(tuple(models), answers, errors, synthesizer, synthesis,
                        round(time.monotonic() - started, 3), at=qid)
    if synthesis is not None and synthesizer is not None:
        final, by = synthesis, synthesizer
    else:
        final = "\n\n".join(f"## {m}\n\n{a}" for m, a in answers.items())
        by = "+".join(answers)
    yield ctx.add(Message("assistant", final, by), parent=qid)
    yield RunFinished(final, by)


async def consensus(ctx: Context, prompt: str, models: list[str], judge: str) -> AsyncGenerator[Event, None]:
    if not models or not judge:
        yield RunFailed("a consensus round needs models and a judge")
        return
    started = time.monotonic()
    results: dict[str, TurnFinished] = {}
    async for ev in _round(ctx, "consensus", prompt, models, results):
        yield ev
    qid = ctx.conversation.leaf
    answers = {m: r.text for m, r in results.items() if r.ok}
    if not answers:
        yield RunFailed("every model in the round failed: "
                        + "; ".join(f"{m}: {r.error}" for m, r in results.items()))
        return
    order = list(answers)
    ctx.rng.shuffle(order)
    labels = {chr(ord("A") + i): m for i, m in enumerate(order)}
    # The judge sees the conversation so far (without the round), then the anonymous answers.
    context = [m for m in ctx.main_branch() if m.id != qid]
    verdicts: list[tuple[list[str], str, TurnFinished]] = []
    orders = [labels, dict(zip(labels, reversed(list(labels.values())), strict=True))] if ctx.profile.consensus.swap \
        else [labels]
    for shown in orders:
        ask = judge_prompt(prompt, [(label, answers[m]) for label, m in shown.items()])
        got: list[TurnFinished] = []
        turn = ctx.runner.answer(judge, [*context, Message("user", ask)], parent=qid, purpose="judge")
        async for ev in collect(turn, got):
            yield ev
        judged = got[-1]
        if judged.ok:
            if not read_ranking(judged.text, list(shown)):
                yield NoticeEvent(f"judge {judged.model} gave no ranking Baton could read; "
                                  "the answers keep their shuffled order")
            verdicts.append(([shown[lb] for lb in parse_ranking(judged.text, list(shown))], judged.text, judged))
        else:
            yield NoticeEvent(f"judge {judge} failed ({judged.error}); answers left unranked")
    if verdicts:
        ranking, judge_output, judged = verdicts[0]
        yield ctx.add(Message("assistant", judge_output, judged.model, lane="judge"), parent=qid)
    else:
        ranking, judge_output = order, ""
    swap_agrees = verdicts[0][0][0] == verdicts[1][0][0] if len(verdicts) == 2 else None
    if swap_agrees is False:
        yield NoticeEvent(f"the judge picked {verdicts[0][0][0]}, then {verdicts[1][0][0]} with the answers "
                          "in reversed order: its verdict depends on the order")
    winner = ranking[0]
    yield ConsensusEvent(tuple(models), judge, tuple(ranking), winner, answers, labels, judge_output,
                         round(time.monotonic() - started, 3), at=qid, swap_agrees=swap_agrees)
    yield ctx.add(Message("assistant", answers[winner], winner), parent=qid)
    yield RunFinished(answers[winner], winner)


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


async def compare(ctx: Context, prompt: str, models: list[str]) -> AsyncGenerator[Event, None]:
    """Two answers shown as "A" and "B" in random order, no names until the person votes."""
    if len(models) != 2:
        yield RunFailed("a blind compare takes two models: /compare M1 M2 [PROMPT]")
        return
    order = list(models)
    ctx.rng.shuffle(order)
    question = ctx.add(Message("user", prompt))
    yield question
    qid = question.message.id
    yield RoundEvent("compare", ("A", "B"), at=qid)
    history = ctx.conversation.path()
    lanes = {label: ctx.runner.answer(model, history, parent=qid, system=ctx.system(), lane=label)
             for label, model in zip(("A", "B"), order, strict=True)}
    results: dict[str, TurnFinished] = {}
    async for ev in merge(lanes):
        if isinstance(ev, TurnFinished) and ev.lane is not None:
            results[ev.lane] = ev
        yield ev
    failed = [label for label in lanes if not (label in results and results[label].ok)]
    if failed:
        yield RunFailed(f"answer {' and '.join(failed)} failed; nothing to vote on")
        return
    for label in lanes:
        r = results[label]
        yield ctx.add(Message("assistant", r.text, r.model, lane=label), parent=qid)
    yield RunFinished("", "A/B")


def vote(ctx: Context, choice: str) -> tuple[VoteEvent, str]:
    """The person's verdict on the latest blind compare: the vote, and the id of the answer
    the conversation goes on from (the winner's; A's on a tie)."""
    conversation = ctx.conversation
    question = next((m for m in reversed(conversation.path()) if m.role == "user"), None)
    answers = {conversation.nodes[c].lane: conversation.nodes[c]
               for c in conversation.children.get(question.id if question else "", ())
               if conversation.nodes[c].lane in ("A", "B")}
    if question is None or set(answers) != {"A", "B"} or any(
            isinstance(e, VoteEvent) and e.at == question.id for e in conversation.events):
        raise ValueError("no blind compare waiting for a vote: /compare M1 M2 [PROMPT]")
    choice = choice.upper()
    winner = answers["A" if choice in ("A", "TIE") else "B"]
    loser = answers["B" if winner is answers["A"] else "A"]
    task_type, _ = classify(question.content, ctx.profile)
    event = VoteEvent("compare", winner.model or "", (loser.model or "",), choice == "TIE", task_type, at=question.id)
    return event, winner.id
