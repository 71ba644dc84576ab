"""The profile: models, routes, handoff rules, rounds and MCP servers.

Schema only in this module; reading, validating and writing live in profile_io.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class ProviderDef:
    kind: Literal["openai", "anthropic"] = "openai"
    base_url: str = ""
    api_key_env: str | None = None  # the variable's name, never the key


@dataclass
class ModelDef:
    model: str  # "provider/id", a bare id, or another alias is NOT allowed
    input_price: float | None = None  # USD per million tokens
    output_price: float | None = None
    context_window: int | None = None
    strengths: list[str] = field(default_factory=list)
    latency_s: float | None = None  # typical seconds per answer, for constraints
    max_tokens: int | None = None
    temperature: float | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None  # OpenAI-format reasoning models
    thinking_budget: int | None = None  # Anthropic extended thinking, in tokens


@dataclass
class Constraints:
    max_cost_usd: float | None = None  # per message, estimated from prices
    max_latency_s: float | None = None
    strengths: list[str] = field(default_factory=list)  # required strengths


@dataclass
class Routing:
    mode: Literal["manual", "auto"] = "manual"
    rules: dict[str, str] = field(default_factory=dict)  # task type -> model
    # The profile's own task types: name -> keywords that signal it.
    tasks: dict[str, list[str]] = field(default_factory=dict)
    constraints: Constraints = field(default_factory=Constraints)


@dataclass
class HandoffConf:
    context: Literal["full", "summary", "recent"] = "full"
    recent_turns: int = 6
    targets: list[str] = field(default_factory=list)
    handback: bool = False  # the conversation returns to who handed off when the target's turn ends


@dataclass
class ParallelConf:
    models: list[str] = field(default_factory=list)
    synthesizer: str | None = None


@dataclass
class ConsensusConf:
    models: list[str] = field(default_factory=list)
    judge: str | None = None
    swap: bool = False  # ask the judge twice, the answers in reversed order, and say if it agrees


@dataclass
class Stage:
    model: str
    instructions: str = ""  # may contain {input}; default: pass the input as is
    # "json", "nonempty", or "regex:PATTERN"; None checks only empty/truncated output
    validate: str | None = None
    checker: str | None = None  # a model asked `check_question` about the output
    check_question: str | None = None


@dataclass
class PipelineConf:
    stages: list[Stage] = field(default_factory=list)


@dataclass
class McpServerDef:
    command: str | None = None  # stdio
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None  # streamable HTTP, or the older HTTP+SSE transport
    headers: dict[str, str] = field(default_factory=dict)
    # For a url: "auto" tries streamable HTTP, then SSE on a 404 or 405.
    transport: Literal["auto", "http", "sse"] = "auto"
    slug: str | None = None  # hosted by the Dedalus provider
    approve: bool = False  # ask the person before each call
    timeout_s: float = 30.0  # for each tool call
    start_timeout_s: float = 30.0  # to start or connect and list the tools
    max_result_chars: int = 100_000  # of a tool result's text sent to a model
    max_media_bytes: int = 5_000_000  # of images and audio in one tool result


@dataclass
class Limits:
    """Every wait is bounded, and money too (seconds; USD)."""

    connect_timeout_s: float = 10.0
    first_token_timeout_s: float = 60.0
    idle_timeout_s: float = 60.0  # between two pieces of a stream
    turn_timeout_s: float = 600.0  # one request, start to end; hitting it fails that attempt only
    budget_usd: float | None = None  # per session in the app, per run in `baton ask`


@dataclass
class Profile:
    name: str = "default"
    description: str = ""
    default_model: str | None = None
    system_prompt: str = ""
    providers: dict[str, ProviderDef] = field(default_factory=dict)
    models: dict[str, ModelDef] = field(default_factory=dict)
    routing: Routing = field(default_factory=Routing)
    handoff: HandoffConf = field(default_factory=HandoffConf)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    parallel: ParallelConf = field(default_factory=ParallelConf)
    consensus: ConsensusConf = field(default_factory=ConsensusConf)
    pipeline: PipelineConf = field(default_factory=PipelineConf)
    mcp_servers: dict[str, McpServerDef] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys
    limits: Limits = field(default_factory=Limits)
