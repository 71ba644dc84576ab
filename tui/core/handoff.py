"""Handoffs: the transfer tools a model may call, and the package the target receives."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .profile import Profile
from .routing import classify
from .types import Message, ToolSpec

TRANSFER_PREFIX = "transfer_to_"
CONSULT_PREFIX = "consult_"

_EXPECTED_OUTPUT = {
    "code_generation": "working code with a short explanation",
    "data_analysis": "findings with the numbers that support them",
    "creative_writing": "finished prose in the requested form",
    "research": "a sourced summary of what is known",
    "quick_answer": "a short direct answer",
}
_CRITERIA = {
    "code_generation": ["code blocks are complete", "no placeholder code"],
    "data_analysis": ["claims are backed by figures"],
    "creative_writing": ["matches the requested form and tone"],
    "research": ["covers the question", "states uncertainty"],
    "quick_answer": ["answers directly"],
}


def transfer_tool_name(target: str) -> str:
    return (TRANSFER_PREFIX + re.sub(r"[^a-zA-Z0-9_-]", "_", target))[:64]


def transfer_tools(targets: list[str]) -> dict[str, str]:
    """Offered tool name -> target, for each allowed target."""
    return {transfer_tool_name(t): t for t in targets}


def consult_tools(targets: list[str]) -> dict[str, str]:
    """Offered consult tool name -> target: ask it once, keep the conversation."""
    return {(CONSULT_PREFIX + re.sub(r"[^a-zA-Z0-9_-]", "_", t))[:64]: t for t in targets}


def consult_spec(name: str, target: str) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=f"Ask {target} one question and get its answer back as this tool's result; "
        f"you keep the conversation. Use it for a second opinion or a part {target} is better at.",
        parameters={
            "type": "object",
            "properties": {"question": {"type": "string", "description": f"What to ask {target}, self-contained"}},
            "required": ["question"],
        },
    )


def transfer_spec(name: str, target: str) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=f"Hand the conversation to {target}, who continues from here. "
        "Call this when that model is better suited to the rest of the task.",
        parameters={
            "type": "object",
            "properties": {
                "instructions": {"type": "string", "description": f"What {target} should do next"},
                "reason": {"type": "string", "description": "Why you are handing off"},
            },
            "required": ["instructions"],
        },
    )


def original_task(messages: list[Message]) -> str:
    """The task being handed off: the latest request, not the first message."""
    for m in reversed(messages):
        if m.role == "user" and m.content.strip():
            return m.content
    return ""


def build_package(
    task: str,
    context: Any,
    source_model: str | None,
    target_model: str,
    instructions: str,
    profile: Profile,
) -> dict[str, Any]:
    """The handoff package: what the target needs to carry on, and how to judge it."""
    task_type, _ = classify(task or instructions, profile)
    d = profile.models.get(target_model)
    params: dict[str, Any] = {}
    if d is not None:
        params = {k: v for k, v in (("max_tokens", d.max_tokens), ("temperature", d.temperature)) if v is not None}
    return {
        "original_task": task,
        "context": context,
        "source_model": source_model,
        "target_model": target_model,
        "instructions": instructions,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "metadata": {
            "task_type": task_type,
            "expected_output_format": _EXPECTED_OUTPUT.get(task_type, "a complete answer"),
            "validation_criteria": _CRITERIA.get(task_type, ["answers the task"]),
            "suggested_parameters": params,
        },
    }


def handoff_note(package: dict[str, Any]) -> str:
    """System-prompt text telling the target it has been handed the conversation."""
    meta = package.get("metadata", {})
    parts = [
        f"The conversation has been handed to you by {package.get('source_model') or 'the user'}.",
        f"Original task: {package.get('original_task') or '(see conversation)'}",
    ]
    if package.get("instructions"):
        parts.append(f"Instructions: {package['instructions']}")
    if meta.get("expected_output_format"):
        parts.append(f"Expected output: {meta['expected_output_format']}.")
    return "\n".join(parts)
