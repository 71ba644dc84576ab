"""Cost of a turn: usage times the profile's prices, else a pricing table for known models."""

from __future__ import annotations

from functools import lru_cache

from .models import ModelSpec
from .types import Usage

# Providers whose model ids genai-prices knows under the same provider name.
_TABLE_PROVIDERS = {"openai", "anthropic", "openrouter"}


def cost_usd(spec: ModelSpec, usage: Usage) -> float | None:
    """USD for `usage`, or None when no price is known (local models, unknown ids)."""
    if spec.input_price is not None and spec.output_price is not None:
        return (usage.input_tokens * spec.input_price + usage.output_tokens * spec.output_price) / 1e6
    rates = _table_rates(spec.provider.name, spec.model_id)
    if rates is None:
        return None
    return (usage.input_tokens * rates[0] + usage.output_tokens * rates[1]) / 1e6


def warm() -> None:
    """Import the price table in a thread of its own (0.3 s), so the first turn's cost is
    not paid on the event loop while an answer streams."""
    import threading

    def load() -> None:
        import genai_prices  # noqa: F401

    threading.Thread(target=load, name="baton-prices", daemon=True).start()


@lru_cache(maxsize=256)
def _table_rates(provider: str, model_id: str) -> tuple[float, float] | None:
    """USD per million (input, output) tokens from genai-prices' bundled snapshot.

    Imported here, on first use, to keep it off the start-up path. The snapshot ships
    with the package: no network.
    """
    if provider not in _TABLE_PROVIDERS:
        return None
    try:
        from genai_prices import Usage as PUsage
        from genai_prices import calc_price

        million = 1_000_000
        inp = calc_price(PUsage(input_tokens=million, output_tokens=0), model_id, provider_id=provider)
        out = calc_price(PUsage(input_tokens=0, output_tokens=million), model_id, provider_id=provider)
        return float(inp.total_price), float(out.total_price)
    except Exception:  # unknown model or provider in the table: cost stays unknown
        return None
