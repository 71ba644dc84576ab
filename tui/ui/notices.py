"""What the chat says before there is a conversation (how to get a model going, or a
welcome), and the small text helpers the app's actions use."""

from __future__ import annotations

import re
from collections.abc import Mapping

from tui.core.profile import Profile

CODE_BLOCK = r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$"

# Notices are Textual markup in a Static (cheaper at start-up than a Markdown widget).
SETUP_NOTICE = (
    "[b]No model is ready yet[/b]\n\n"
    "{problem}\n\n"
    "Baton reads API keys from the environment, or from a [b].env[/b] file in the working "
    "directory or in [b]{config}[/b]. Set one of:\n\n"
    "  [b]OPENAI_API_KEY[/b]=...       then /model openai/gpt-4.1\n"
    "  [b]ANTHROPIC_API_KEY[/b]=...    then /model anthropic/claude-sonnet-4-5\n"
    "  [b]DEDALUS_API_KEY[/b]=...\n"
    "  [b]OPENROUTER_API_KEY[/b]=...\n\n"
    "or point [b]OLLAMA_HOST[/b] at a local Ollama (OLLAMA_HOST=http://localhost:11434) and use "
    "/model ollama/llama3.2. Then restart Baton, or give a profile with --profile."
)

WELCOME = "Send a message to [b]{model}[/b]. /help lists the commands; [b]ctrl+p[/b] opens the palette."


def provider_problem(
    profile: Profile, model: str | None, env: Mapping[str, str], blocked: Mapping[str, str] | None = None
) -> str | None:
    """Why `model` cannot answer (no model, unknown provider, missing key, a provider
    left off), or None."""
    from tui.core.models import ModelError, api_key, resolve_model

    if not model:
        return "No model is selected and no provider key was found."
    try:
        spec = resolve_model(model, profile, env)
        if blocked and spec.provider.name in blocked:
            return f"{model}: provider '{spec.provider.name}' is {blocked[spec.provider.name]}"
        api_key(spec.provider, env)
    except ModelError as error:
        return f"{model}: {error}"
    return None


def last_code_block(markdown: str) -> str | None:
    blocks = re.findall(CODE_BLOCK, markdown, re.DOTALL | re.MULTILINE)
    return blocks[-1][1].rstrip("\n") if blocks else None
