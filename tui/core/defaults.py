"""The profile used when none is given: built-in providers, a model per key found."""

from __future__ import annotations

from collections.abc import Mapping

from .profile import Profile

# The first provider whose key (or host) is set picks the default model.
DEFAULT_MODELS = (
    ("OPENAI_API_KEY", "openai/gpt-4.1"),
    ("ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"),
    ("DEDALUS_API_KEY", "dedalus/openai/gpt-4.1"),
    ("OPENROUTER_API_KEY", "openrouter/openai/gpt-4.1"),
    ("OLLAMA_HOST", "ollama/llama3.2"),
)


def default_profile(env: Mapping[str, str]) -> Profile:
    model = next((m for var, m in DEFAULT_MODELS if env.get(var)), None)
    return Profile(name="default", description="Built-in providers, keys from the environment", default_model=model)

