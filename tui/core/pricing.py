"""Cost of a turn: the provider's own figure when it sent one, else usage times the
profile's prices, else a pricing table for known models. Unknown stays None, never 0."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .models import ModelSpec
from .types import Usage

# Providers whose model ids genai-prices knows under the same provider name.
_TABLE_PROVIDERS = {"openai", "anthropic", "openrouter"}
# Cache tokens as a share of the input price when no table says otherwise (Anthropic's
# list prices: reads 0.1x, five-minute writes 1.25x).
CACHE_READ_FACTOR = 0.1
CACHE_WRITE_FACTOR = 1.25


@dataclass(frozen=True)
class Rates:
    """USD per million tokens; a cache rate of None means "derive it from `input`"."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage, cache_read: int, cache_write: int) -> float:
        """`usage.input_tokens` counts the cached tokens too: they are priced at their
        own rates, the rest of the input at the full one."""
        read = max(0, min(cache_read, usage.input_tokens))
        write = max(0, min(cache_write, usage.input_tokens - read))
        fresh = usage.input_tokens - read - write
        read_rate = self.cache_read if self.cache_read is not None else self.input * CACHE_READ_FACTOR
        write_rate = self.cache_write if self.cache_write is not None else self.input * CACHE_WRITE_FACTOR
        return (
            fresh * self.input + read * read_rate + write * write_rate + usage.output_tokens * self.output
        ) / 1e6


def cost_usd(
    spec: ModelSpec,
    usage: Usage,
    *,
    cache_read: int = 0,
    cache_write: int = 0,
    reported: float | None = None,
) -> float | None:
    """USD for a turn: `reported` (the provider's own figure) when given, else priced
    from the profile or the table; None when no price is known (local models, unknown
    ids). `cache_read`/`cache_write` are the part of `usage.input_tokens` read from or
    written to the prompt cache."""
    if reported is not None:
        return reported
    rates = spec_rates(spec)
    return None if rates is None else rates.cost(usage, cache_read, cache_write)


def spec_rates(spec: ModelSpec) -> Rates | None:
    if spec.input_price is not None and spec.output_price is not None:
        return Rates(spec.input_price, spec.output_price, spec.cache_read_price, spec.cache_write_price)
    return _table_rates(spec.provider.name, spec.model_id)


def warm() -> None:
    """Import the price table in a thread of its own (0.3 s), so the first turn's cost is
    not paid on the event loop while an answer streams."""
    import threading

    def load() -> None:
        import genai_prices  # noqa: F401

    threading.Thread(target=load, name="baton-prices", daemon=True).start()


@lru_cache(maxsize=256)
def _table_rates(provider: str, model_id: str) -> Rates | None:
    """Rates from genai-prices' bundled snapshot, its own cache prices where it has them.

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
        price = inp.model_price
        read = write = None
        if price.cache_read_mtok is not None:
            usage = PUsage(input_tokens=million, cache_read_tokens=million)
            read = float(calc_price(usage, model_id, provider_id=provider).total_price)
        if price.cache_write_mtok is not None:
            usage = PUsage(input_tokens=million, cache_write_tokens=million)
            write = float(calc_price(usage, model_id, provider_id=provider).total_price)
        return Rates(float(inp.total_price), float(out.total_price), read, write)
    except Exception:  # unknown model or provider in the table: cost stays unknown
        return None
