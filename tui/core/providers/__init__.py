"""Providers: one module per wire format, chosen by `ProviderConfig.kind`.

The wire-format modules (and httpx) are imported only when a provider is made, so
importing `tui.core` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import (
    ChatRequest,
    Deadlines,
    Delta,
    Done,
    Provider,
    ProviderConfig,
    ProviderError,
    ProviderEvent,
    ReasoningDelta,
    ServerToolCall,
    ThinkingBlock,
)

if TYPE_CHECKING:
    from tui.core._httpx import httpx

__all__ = [
    "ChatRequest",
    "Deadlines",
    "Delta",
    "Done",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderEvent",
    "ReasoningDelta",
    "ServerToolCall",
    "ThinkingBlock",
    "make_provider",
]


def make_provider(
    config: ProviderConfig,
    api_key: str | None,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 120.0,
    keep_text: bool = True,
) -> Provider:
    """A provider for `config`. A given `client` is borrowed (aclose() leaves it open);
    otherwise the provider owns one and aclose() closes it. `keep_text=False`: a stream's
    `Done.text` and a failure's `partial` are left empty (the reader of its deltas keeps them)."""
    if config.kind == "openai":
        from .openai import OpenAIProvider

        return OpenAIProvider(config, api_key, client=client, timeout=timeout, keep_text=keep_text)
    if config.kind == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(config, api_key, client=client, timeout=timeout, keep_text=keep_text)
    raise ValueError(f"unknown provider kind '{config.kind}' for provider '{config.name}'")
