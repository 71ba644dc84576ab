"""Task classification and model choice for auto routing.

Classification is a cheap keyword score (no model call, no tokens spent): each task type
has signal words; the profile may add its own task types with their own words. The
choice honours the profile's rules, then constraints (max cost, max latency, required
strengths). Every decision carries its reason in words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .models import ModelError, resolve_model
from .profile import Constraints, Profile

TASK_SIGNALS: dict[str, tuple[str, ...]] = {
    "code_generation": (
        "code", "function", "bug", "python", "javascript", "typescript", "rust", "golang",
        "implement", "refactor", "compile", "regex", "sql", "script", "class", "method",
        "traceback", "exception", "api", "unit test", "debug", "algorithm", "```", "parser",
        "program", "endpoint", "stack trace", "dockerfile", "shell command", "bash",
    ),
    "data_analysis": (
        "analyze", "analyse", "analysis", "data", "dataset", "csv", "statistic", "trend",
        "chart", "metric", "correlation", "average", "median", "forecast", "table",
        "insight", "pattern", "assess",
    ),
    "creative_writing": (
        "story", "poem", "essay", "creative", "fiction", "lyrics", "narrative", "novel",
        "blog post", "slogan", "character", "haiku", "write a",
    ),
    "research": (
        "research", "latest", "sources", "investigate", "compare", "history of",
        "literature", "evidence", "survey", "state of the art", "find out", "papers",
        "evaluate", "implications",
    ),
    "quick_answer": ("quick", "briefly", "in one line", "tl;dr", "what is", "who is", "when did"),
}
# Words that say only "produce something": they count half, so "write a parser" is code
# and "write a poem" is still creative writing.
WEAK_SIGNALS = frozenset({"write a"})
TASK_TYPES = tuple(TASK_SIGNALS)

# Analysis types of the handoff MCP server's route_to_specialist, as task types.
ANALYSIS_TYPES = {
    "code_review": "code_generation",
    "creative_expansion": "creative_writing",
    "fact_checking": "research",
    "summarization": "quick_answer",
    "data_analysis": "data_analysis",
}

# Rough size of one exchange, for estimating a message's cost against max_cost.
EST_INPUT_TOKENS = 1500
EST_OUTPUT_TOKENS = 500


@dataclass(frozen=True)
class RouteChoice:
    task_type: str
    model: str
    reason: str
    candidates: tuple[str, ...] = ()
    # False when no model meets the constraints and `model` is only the first preference.
    satisfied: bool = True


def _hits(text: str, words: tuple[str, ...] | list[str]) -> list[str]:
    found = []
    for word in words:
        if word.isalnum():
            if re.search(rf"\b{re.escape(word)}", text):
                found.append(word)
        elif word in text:
            found.append(word)
    return found


def classify(text: str, profile: Profile) -> tuple[str, str]:
    """(task type, reason) for a message."""
    lowered = text.lower()
    scores: dict[str, list[str]] = {}
    for task, words in profile.routing.tasks.items():
        hits = _hits(lowered, [w.lower() for w in words])
        if hits:
            scores[task] = hits + hits  # the profile's own words weigh double
    for task, signals in TASK_SIGNALS.items():
        hits = _hits(lowered, signals)
        if hits:
            scores.setdefault(task, []).extend(hits)
    if not scores:
        if len(text.split()) <= 12:
            return "quick_answer", "short message with no task signals"
        return "research", "no task signals; longer message treated as research"

    def weight(task: str) -> float:
        return sum(0.5 if hit in WEAK_SIGNALS else 1.0 for hit in scores[task])

    task = max(scores, key=weight)
    found = sorted(set(scores[task]))
    return task, f"matched {', '.join(repr(w) for w in found[:4])}"


def estimated_cost(profile: Profile, model: str) -> float | None:
    d = profile.models.get(model)
    if d is None or d.input_price is None or d.output_price is None:
        return None
    return (d.input_price * EST_INPUT_TOKENS + d.output_price * EST_OUTPUT_TOKENS) / 1e6


def _has_strengths(profile: Profile, model: str, required: list[str]) -> bool:
    d = profile.models.get(model)
    have = [s.lower() for s in (d.strengths if d else [])]
    return all(
        any(s == r or s.startswith(r) or r.startswith(s) for s in have) for r in (x.lower() for x in required)
    )


def violations(profile: Profile, model: str, c: Constraints) -> list[str]:
    out = []
    if c.max_cost_usd is not None:
        cost = estimated_cost(profile, model)
        if cost is not None and cost > c.max_cost_usd:
            out.append(f"est. ${cost:.4f} > max ${c.max_cost_usd:g}")
    if c.max_latency_s is not None:
        d = profile.models.get(model)
        if d is not None and d.latency_s is not None and d.latency_s > c.max_latency_s:
            out.append(f"latency {d.latency_s:g}s > max {c.max_latency_s:g}s")
    if c.strengths and not _has_strengths(profile, model, c.strengths):
        out.append(f"lacks {', '.join(c.strengths)}")
    return out


def constraints_from_dict(d: Mapping[str, Any] | None, base: Constraints | None = None) -> Constraints:
    base = base or Constraints()
    d = d or {}
    strengths = list(d.get("strengths") or d.get("capabilities") or base.strengths)
    return Constraints(
        max_cost_usd=d.get("max_cost", d.get("max_cost_usd", base.max_cost_usd)),
        max_latency_s=d.get("max_latency", d.get("max_latency_s", base.max_latency_s)),
        strengths=strengths,
    )


def select_model(
    task: str,
    profile: Profile,
    env: Mapping[str, str],
    constraints: Mapping[str, Any] | Constraints | None = None,
    *,
    task_type: str | None = None,
    why: str = "",
) -> RouteChoice:
    """The model for a task: rule, then strengths, then default, narrowed by constraints."""
    if isinstance(constraints, Constraints):
        c = constraints
    else:
        c = constraints_from_dict(constraints, profile.routing.constraints)
    if task_type is None:
        task_type, why = classify(task, profile)
    why = f"{task_type} ({why})" if why else task_type

    preferred: list[tuple[str, str]] = []  # (model, why it is preferred)
    rule = profile.routing.rules.get(task_type)
    if rule:
        preferred.append((rule, f"rule {task_type} -> {rule}"))
    for alias in profile.models:
        if _has_strengths(profile, alias, [task_type]) and alias != rule:
            preferred.append((alias, f"{alias} is strong at {task_type}"))
    if profile.default_model and all(m != profile.default_model for m, _ in preferred):
        preferred.append((profile.default_model, "default model"))
    others = [a for a in profile.models if all(a != m for m, _ in preferred)]
    preferred.extend((a, f"{a} meets the constraints") for a in others)
    if not preferred:
        raise ModelError("no model to route to: give the profile a default_model or [models]")

    candidates = tuple(m for m, _ in preferred)
    rejected = []
    for model, because in preferred:
        problems = violations(profile, model, c)
        if problems:
            rejected.append(f"{model}: {'; '.join(problems)}")
            continue
        try:
            resolve_model(model, profile, env)
        except ModelError as e:
            rejected.append(f"{model}: {e}")
            continue
        reason = f"{why}; {because}"
        if rejected:
            reason += f" (skipped {'; '.join(rejected)})"
        return RouteChoice(task_type, model, reason, candidates)
    # Nothing satisfies every constraint: fall back to the first preference, and say so.
    model, because = preferred[0]
    return RouteChoice(
        task_type, model, f"{why}; {because}; no model meets the constraints ({'; '.join(rejected)})", candidates,
        satisfied=False,
    )


def route(text: str, profile: Profile, env: Mapping[str, str]) -> RouteChoice:
    return select_model(text, profile, env)


def route_for_analysis(content: str, analysis_type: str, profile: Profile, env: Mapping[str, str]) -> RouteChoice:
    task_type = ANALYSIS_TYPES.get(analysis_type)
    if task_type is None and analysis_type in profile.routing.rules:
        task_type = analysis_type
    if task_type is None:
        task_type, why = classify(content, profile)
        why = f"unknown analysis type {analysis_type!r}; content {why}"
    else:
        why = f"analysis type {analysis_type}"
    return select_model(content, profile, env, task_type=task_type, why=why)
