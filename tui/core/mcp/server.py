"""`baton mcp-server`: Baton's routing, handoff packages and models as an MCP server over stdio.

The tools answer from the same code the chat uses (tui.core.routing, tui.core.handoff,
the engine) with the profile given, so another MCP client can ask which model suits a
task, get a handoff package in Baton's shape, or a second opinion from any model of the
profile (`consult`, `consensus`, see hub.py). Nothing but the protocol goes to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field

from ..handoff import build_package
from ..models import ModelError, resolve_model
from ..profile import ModelDef, Profile, Routing
from ..routing import RouteChoice, route_for_analysis, select_model
from ..text import one_line
from .hub import Consultation, HubError, Verdict
from .hub import consensus as consensus_round
from .hub import consult as consult_model

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


class ModelConstraints(BaseModel):
    """Limits on the model chosen; unset keys fall back to the profile's [routing.constraints]."""

    model_config = ConfigDict(extra="forbid")

    max_cost: float | None = Field(None, description="Most USD one message may cost (estimated)")
    max_latency: float | None = Field(None, description="Most seconds a typical answer may take")
    capabilities: list[str] | None = Field(None, description="Strengths the model must have, e.g. code")
    strengths: list[str] | None = Field(None, description="Same as capabilities")


class ModelRoute(BaseModel):
    ok: bool = Field(default=True, description="False (with isError) when no model meets the constraints")
    model: str = Field(description="The chosen model: a profile alias or provider/model")
    task_type: str
    reason: str = Field(description="Why this model, in words")
    candidates: list[str] = Field(description="Models considered, best first")


class SpecialistRoute(BaseModel):
    content: str
    routing: ModelRoute
    ready_for_handoff: bool = Field(description="True when the content is non-empty and the model is usable")


class HandoffMetadata(BaseModel):
    task_type: str
    expected_output_format: str
    validation_criteria: list[str]
    suggested_parameters: dict[str, Any]


class HandoffPackage(BaseModel):
    original_task: str
    context: dict[str, Any]
    source_model: str | None
    target_model: str = Field(description="The target as given (a profile alias or provider/model)")
    target_ref: str = Field(description="The target resolved to provider/model")
    instructions: str
    timestamp: str
    metadata: HandoffMetadata


def builtin_profile() -> Profile:
    """Used when no profile is given: a few well-known models with routing rules."""
    def model(ref: str, price_in: float, price_out: float, latency: float, *strengths: str) -> ModelDef:
        return ModelDef(ref, input_price=price_in, output_price=price_out, latency_s=latency, strengths=list(strengths))

    models = {
        "coder": model("anthropic/claude-sonnet-4-5", 3.0, 15.0, 6.0, "code_generation", "code_review"),
        "analyst": model("openai/gpt-4.1", 2.0, 8.0, 5.0, "data_analysis", "research", "fact_checking"),
        "writer": model("anthropic/claude-opus-4-1", 15.0, 75.0, 12.0, "creative_writing"),
        "quick": model("openai/gpt-4o-mini", 0.15, 0.6, 1.5, "quick_answer", "summarization"),
    }
    rules = {
        "code_generation": "coder",
        "data_analysis": "analyst",
        "research": "analyst",
        "creative_writing": "writer",
        "quick_answer": "quick",
    }
    return Profile(
        name="default",
        description="Built-in models for `baton mcp-server` without --profile",
        default_model="quick",
        models=models,
        routing=Routing(mode="auto", rules=rules),
    )


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("baton-tui")
    except PackageNotFoundError:
        return "0"


def _route(choice: RouteChoice) -> ModelRoute:
    return ModelRoute(
        model=choice.model, task_type=choice.task_type, reason=choice.reason, candidates=list(choice.candidates)
    )


def build_server(profile: Profile, env: Mapping[str, str]) -> MCPServer:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer(
        "baton",
        version=package_version(),
        instructions=f"Model routing, handoff packages and second opinions from the Baton profile '{profile.name}'.",
        log_level="WARNING",
    )

    def resolved(model: str) -> str:
        try:
            return resolve_model(model, profile, env).ref
        except ModelError as exc:
            known = ", ".join(profile.models) or "none"
            raise ToolError(f"{exc} (profile '{profile.name}' models: {known})") from None

    @server.tool()
    def prepare_handoff(
        task: str, current_context: dict[str, Any], target_model: str, handoff_instructions: str
    ) -> HandoffPackage:
        """Package a task for handing to another model: the task, its context, the
        instructions, and what output to expect and how to check it."""
        target_ref = resolved(target_model)
        package = build_package(task, current_context, None, target_model, handoff_instructions, profile)
        return HandoffPackage(**package, target_ref=target_ref)

    @server.tool()
    def route_to_specialist(content: str, analysis_type: str) -> SpecialistRoute:
        """Choose the model for an analysis of the content. analysis_type is one of
        code_review, creative_expansion, fact_checking, summarization, data_analysis,
        or a task type of the profile."""
        try:
            choice = route_for_analysis(content, analysis_type, profile, env)
        except ModelError as exc:
            raise ToolError(str(exc)) from None
        try:
            resolve_model(choice.model, profile, env)
            usable = True
        except ModelError:
            usable = False
        return SpecialistRoute(
            content=content, routing=_route(choice), ready_for_handoff=usable and bool(content.strip())
        )

    @server.tool()
    def select_optimal_model(
        task: str, constraints: ModelConstraints | None = None
    ) -> Annotated[CallToolResult, ModelRoute]:
        """Choose the best model of the profile for a task, within optional limits on
        cost, latency and required capabilities. When no model meets the limits the
        result is an error with structured content {"ok": false, "reason": ...}."""
        limits = constraints.model_dump(exclude_none=True) if constraints else None
        try:
            choice = select_model(task, profile, env, limits)
        except ModelError as exc:
            raise ToolError(str(exc)) from None
        if not choice.satisfied:
            refusal = {"ok": False, "reason": choice.reason, "task_type": choice.task_type,
                       "candidates": list(choice.candidates)}
            return CallToolResult(content=[TextContent(type="text", text=one_line(choice.reason, 1000))],
                                  structured_content=refusal, is_error=True)
        route = _route(choice)
        return CallToolResult(content=[TextContent(type="text", text=route.model_dump_json())],
                              structured_content=route.model_dump(mode="json"))

    @server.tool()
    async def consult(model: str, prompt: str, system: str | None = None) -> Consultation:
        """Ask one model of the Baton profile (an alias or provider/model) and get its
        answer, with token usage, cost in USD (null when unknown) and latency. `system`
        replaces the profile's system prompt. Ends within the profile's turn_timeout_s."""
        try:
            return await consult_model(profile, env, model, prompt, system)
        except HubError as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    async def consensus(models: list[str], judge: str, prompt: str) -> Verdict:
        """Every model answers the prompt; the judge ranks the anonymous answers. Returns
        the ranking (best first), the winner and its answer, each model's answer, and
        which model was behind each label. Ends within twice the profile's turn_timeout_s."""
        try:
            return await consensus_round(profile, env, models, judge, prompt)
        except HubError as exc:
            raise ToolError(str(exc)) from None

    return server


def serve(profile_arg: str | None) -> int:
    """Run the server on stdio until the client closes it; 2 for a bad profile."""
    from ..env import load_environment
    from ..profile_io import ProfileError, find_profile, load_profile

    if profile_arg is None:
        profile = builtin_profile()
    else:
        try:
            profile = load_profile(find_profile(profile_arg))
        except ProfileError as exc:
            print(one_line(f"baton mcp-server: {exc}", 1000), file=sys.stderr)
            return 2
    build_server(profile, load_environment()).run()
    return 0

