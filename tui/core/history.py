"""What a model is sent: the branch of the conversation, shaped for it.

`wire_messages` turns the active branch into the history one model receives;
`shape_context` and `summarize` cut it down for a handoff, per `[handoff].context`.
"""

from __future__ import annotations

import json

from .types import Message


def wire_messages(branch: list[Message], me: str, tool_names: set[str]) -> tuple[Message, ...]:
    """The branch as `me` should receive it.

    Round answers reach later turns only through the round's outcome, or alone when
    the person picked one (then it is on the branch); a partial
    answer is kept only if the person wrote after it (a cancelled answer they saw); tool
    calls to tools this model is not offered, or made by another model (a handoff),
    become plain text, and so do their results: both wire formats reject calls to
    undeclared tools, and ids from one provider may not suit another. Which results are
    flattened is decided per assistant message, so two turns that reuse a call id never
    mix.
    """
    out: list[Message] = []
    flattened: set[str] = set()
    visible = list(branch)  # round answers reach a branch only when picked to go on from
    for i, m in enumerate(visible):
        if m.role == "assistant" and m.partial and (i + 1 == len(visible) or visible[i + 1].role == "assistant"):
            continue  # a cut attempt that a retry or fallback replaces
        if m.role == "assistant":
            flattened = set()
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
                # Thinking goes back only to the model that thought it (Anthropic checks its signature).
                out.append(Message("assistant", content, m.model, tuple(keep),
                                   thinking=m.thinking if m.model == me else ()))
        elif m.role == "tool":
            if m.tool_call_id in flattened or (m.tool_name and m.tool_name not in tool_names):
                out.append(Message("user", f"[result of {m.tool_name or 'tool'}] {m.content}"))
            else:
                out.append(Message("tool", m.content, tool_call_id=m.tool_call_id, tool_name=m.tool_name,
                                   is_error=m.is_error, media=m.media))
        elif m.content:
            out.append(Message(m.role, m.content))
    return tuple(out)


def shape_context(messages: list[Message], mode: str, recent_turns: int) -> list[Message]:
    """The part of the conversation the target receives, per [handoff].context."""
    if mode == "recent":
        starts = [i for i, m in enumerate(messages) if m.role == "user"]
        if len(starts) > recent_turns:
            return messages[starts[-recent_turns]:]
        return list(messages)
    if mode == "summary":
        return [Message("user", summarize(messages))] if messages else []
    return list(messages)


def summarize(messages: list[Message], width: int = 240) -> str:
    """A compact extractive digest: who said what, each message cut to `width` chars.
    Deterministic and free; a model-written summary would cost a call per handoff."""
    lines = ["Summary of the conversation so far:"]
    for m in messages:
        if m.role == "tool" or not m.content.strip():
            continue
        who = "user" if m.role == "user" else (m.model or "assistant")
        text = " ".join(m.content.split())
        lines.append(f"- {who}: {text[:width]}{'…' if len(text) > width else ''}")
    return "\n".join(lines)
