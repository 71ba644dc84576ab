"""Model references: `provider/id`, profile aliases, and bare ids as docs write them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .profile import Profile
from .providers.base import ProviderConfig


class ModelError(ValueError):
    """An unknown model or provider, or a provider without its key."""


@dataclass(frozen=True)
class BuiltinProvider:
    kind: str
    default_base_url: str
    api_key_env: str | None
    base_url_env: str | None
    url_suffix: str = ""


# Adding a provider that speaks a known wire format is one row here.
BUILTIN_PROVIDERS: dict[str, BuiltinProvider] = {
    "openai": BuiltinProvider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": BuiltinProvider("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    # The Dedalus SDK's DEDALUS_BASE_URL is the host alone; "/v1" is added when missing.
    "dedalus": BuiltinProvider(
        "openai", "https://api.dedaluslabs.ai/v1", "DEDALUS_API_KEY", "DEDALUS_BASE_URL", "/v1"
    ),
    "openrouter": BuiltinProvider("openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", None),
    "ollama": BuiltinProvider("openai", "http://localhost:11434", None, "OLLAMA_HOST", "/v1"),
}

_BARE_PREFIXES = (
    ("claude-", "anthropic"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
)


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: `name` is what the person sees (alias or reference)."""

    name: str
    provider: ProviderConfig
    model_id: str
    input_price: float | None = None
    output_price: float | None = None
    context_window: int | None = None
    strengths: tuple[str, ...] = ()
    latency_s: float | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Sent as ChatRequest.reasoning_effort / thinking_budget, each wire format its own way.
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    # USD per million cached input tokens; None: derived from input_price.
    cache_read_price: float | None = None
    cache_write_price: float | None = None

    @property
    def ref(self) -> str:
        return f"{self.provider.name}/{self.model_id}"


def provider_config(name: str, profile: Profile, env: Mapping[str, str]) -> ProviderConfig:
    if name in profile.providers:
        p = profile.providers[name]
        return ProviderConfig(name, p.kind, p.base_url.rstrip("/"), p.api_key_env)
    builtin = BUILTIN_PROVIDERS.get(name)
    if builtin is None:
        known = ", ".join(sorted({*BUILTIN_PROVIDERS, *profile.providers}))
        raise ModelError(f"unknown provider '{name}' (known: {known})")
    base = (env.get(builtin.base_url_env) if builtin.base_url_env else None) or builtin.default_base_url
    _check_dotenv_redirect(builtin, env)
    if name == "ollama" and not base.startswith(("http://", "https://")):
        base = "http://" + base
    base = base.rstrip("/")
    if builtin.url_suffix and not base.endswith(builtin.url_suffix):
        base += builtin.url_suffix
    return ProviderConfig(name, builtin.kind, base, builtin.api_key_env)  # type: ignore[arg-type]


def split_ref(ref: str, profile: Profile) -> tuple[str, str]:
    """`provider/id` or a bare id -> (provider, id)."""
    head, sep, rest = ref.partition("/")
    if sep and (head in BUILTIN_PROVIDERS or head in profile.providers):
        return head, rest
    for prefix, provider in _BARE_PREFIXES:
        if ref.startswith(prefix):
            return provider, ref
    if sep:
        raise ModelError(f"unknown provider '{head}' in model '{ref}'")
    raise ModelError(
        f"unknown model '{ref}': use provider/model (e.g. openai/gpt-4.1) or an alias from the profile"
    )


def resolve_model(ref: str, profile: Profile, env: Mapping[str, str]) -> ModelSpec:
    ref = ref.strip()
    if ref in profile.models:
        d = profile.models[ref]
        provider, model_id = split_ref(d.model, profile)
        return ModelSpec(
            name=ref,
            provider=provider_config(provider, profile, env),
            model_id=model_id,
            input_price=d.input_price,
            output_price=d.output_price,
            context_window=d.context_window,
            strengths=tuple(d.strengths),
            latency_s=d.latency_s,
            max_tokens=d.max_tokens,
            temperature=d.temperature,
            # Read with getattr: the profile schema gains these fields separately.
            reasoning_effort=getattr(d, "reasoning_effort", None),
            thinking_budget=getattr(d, "thinking_budget", None),
            cache_read_price=getattr(d, "cache_read_price", None),
            cache_write_price=getattr(d, "cache_write_price", None),
        )
    provider, model_id = split_ref(ref, profile)
    return ModelSpec(name=ref, provider=provider_config(provider, profile, env), model_id=model_id)


def _check_dotenv_redirect(builtin: BuiltinProvider, env: Mapping[str, str]) -> None:
    """A `.env` in the working directory (a cloned project's, say) may not send a key
    from the real environment to a host of its choosing."""
    from_cwd: frozenset[str] = getattr(env, "from_cwd_dotenv", frozenset())
    url_var, key_var = builtin.base_url_env, builtin.api_key_env
    if not (url_var and key_var and url_var in from_cwd and env.get(url_var)):
        return
    if env.get(key_var) and key_var not in from_cwd:
        raise ModelError(
            f"./.env sets {url_var} but {key_var} comes from the environment, so Baton will not send "
            f"the key there: put {url_var} and {key_var} in the same place (both in ./.env or both outside it)"
        )


def api_key(config: ProviderConfig, env: Mapping[str, str]) -> str | None:
    """The key for `config` with surrounding whitespace (a CRLF file's `\r`) removed, or
    ModelError naming the variable to set. The key itself never appears in an error."""
    if not config.api_key_env:
        return None
    key = (env.get(config.api_key_env) or "").strip()
    if not key:
        raise ModelError(
            f"no API key for provider '{config.name}': set {config.api_key_env} in the environment or .env"
        )
    if not all(" " <= c <= "~" for c in key):
        raise ModelError(
            f"the API key in {config.api_key_env} holds control or non-ASCII characters: set it again"
        )
    return key
