"""Cost of a turn: the provider's own figure when it sent one, else usage times the
profile's prices, else a pricing table for known models. Unknown stays None, never 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from .env import data_dir
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
    rates = _table_rates(spec.provider.name, spec.model_id)
    _looked_up.add((spec.provider.name, spec.model_id))
    return rates


_looked_up: set[tuple[str, str]] = set()


async def look_up_early(spec: ModelSpec) -> None:
    """Find `spec`'s rates in a thread, while its answer streams, the first time this
    process prices it: reading the table and keeping what it says on disk would otherwise
    hold the event loop (and every key) up at the end of the turn. Only once the table's
    module is imported (the app reads context windows from it in the warm-up's wake)."""
    if spec.input_price is not None and spec.output_price is not None:
        return
    if spec.provider.name not in _TABLE_PROVIDERS or (spec.provider.name, spec.model_id) in _looked_up:
        return
    if "genai_prices" not in sys.modules:
        return  # importing it here while the loop imports the HTTP stack can deadlock the import locks
    with contextlib.suppress(Exception):  # priced on the loop after all, as before
        await asyncio.to_thread(spec_rates, spec)


@lru_cache(maxsize=256)
def _table_rates(provider: str, model_id: str) -> Rates | None:
    """Rates from genai-prices' bundled snapshot (no network), read once a day per model
    and kept in the data directory's `prices.json`: importing the table costs more than
    a short `baton ask` itself."""
    if provider not in _TABLE_PROVIDERS:
        return None
    rates: Rates | None = _kept_or_read(
        "rates", provider, model_id,
        lambda calc_price, usage_of: _rates_from_table(calc_price, usage_of, provider, model_id))
    return rates


def _kept_or_read(kind: str, provider: str, model_id: str, read: Callable[[Any, Any], Any]) -> Any:
    """What `prices.json` keeps of `kind` ("rates" or "windows") for a model, else what
    `read(calc_price, Usage)` finds in the table, then kept. None when the table cannot
    be imported (not kept: it may be readable next time)."""
    kept = _RatesFile.load()
    found: dict[str, Any] = getattr(kept, kind)
    key = f"{provider}/{model_id}"
    if kept.current and key in found:
        return found[key]
    try:
        from genai_prices import Usage, calc_price
    except Exception:  # the table cannot be read: unknown, and not kept as unknown
        return None
    value = read(calc_price, Usage)
    found[key] = value
    kept.write()
    return value


def _rates_from_table(calc_price: Any, usage_of: Any, provider: str, model_id: str) -> Rates | None:
    """The table's rates for one model, its own cache prices where it has them."""
    try:
        million = 1_000_000
        inp = calc_price(usage_of(input_tokens=million, output_tokens=0), model_id, provider_id=provider)
        out = calc_price(usage_of(input_tokens=0, output_tokens=million), model_id, provider_id=provider)
        price = inp.model_price
        read = write = None
        if price.cache_read_mtok is not None:
            usage = usage_of(input_tokens=million, cache_read_tokens=million)
            read = float(calc_price(usage, model_id, provider_id=provider).total_price)
        if price.cache_write_mtok is not None:
            usage = usage_of(input_tokens=million, cache_write_tokens=million)
            write = float(calc_price(usage, model_id, provider_id=provider).total_price)
        return Rates(float(inp.total_price), float(out.total_price), read, write)
    except Exception:  # unknown model or provider in the table: cost stays unknown
        return None


def table_window(provider: str, model_id: str) -> int | None:
    """The context window the table knows for a model, kept in `prices.json` beside its
    rates: reading the table costs a fifth of a second, so not on every start."""

    def read(calc_price: Any, usage_of: Any) -> int | None:
        try:
            found = calc_price(usage_of(input_tokens=1, output_tokens=1), model_id, provider_id=provider)
            window = found.model.context_window
        except Exception:  # unknown to the table
            return None
        return int(window) if isinstance(window, int) and window > 0 else None

    window: int | None = _kept_or_read("windows", provider, model_id, read)
    return window


class _RatesFile:
    """Rates and context windows looked up in the table, by "provider/model" (None: the
    table has none), valid for the table they came from (its file's size and time) on the
    day they were read. Unreadable or stale, it is simply rebuilt; a failed write only
    loses the cache."""

    def __init__(self, path: Path | None, stamp: str, rates: dict[str, Rates | None], current: bool,
                 windows: dict[str, int | None] | None = None) -> None:
        self.path, self.stamp, self.rates, self.current = path, stamp, rates, current
        self.windows = windows or {}

    @classmethod
    def load(cls) -> _RatesFile:
        stamp = _table_stamp()
        if stamp is None:
            return cls(None, "", {}, False)
        path = data_dir() / "prices.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("stamp") == stamp:
                rates = {str(k): None if v is None else _rates_of(v) for k, v in data["rates"].items()}
                windows = {str(k): None if v is None else _window_of(v) for k, v in data.get("windows", {}).items()}
                return cls(path, stamp, rates, True, windows)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            pass
        return cls(path, stamp, {}, False)

    def write(self) -> None:
        if self.path is None:
            return
        data = {"stamp": self.stamp, "rates": {
            k: None if r is None else [r.input, r.output, r.cache_read, r.cache_write] for k, r in self.rates.items()},
            "windows": self.windows}
        from .files.tomlfile import atomic_write  # private, whole or not at all; only on a miss

        with contextlib.suppress(OSError):
            atomic_write(self.path, json.dumps(data))


def _window_of(kept: Any) -> int:
    if not isinstance(kept, int) or isinstance(kept, bool) or kept <= 0:
        raise ValueError("not a window")
    return kept


def _rates_of(kept: Any) -> Rates:
    """[input, output, cache read, cache write] as kept; a bad entry raises (the file is rebuilt)."""
    inp, out, read, write = kept
    return Rates(float(inp), float(out), None if read is None else float(read), None if write is None else float(write))


def _table_stamp() -> str | None:
    """Which table and which day: None when genai-prices is not installed. Found without
    importing it."""
    spec = find_spec("genai_prices")
    if spec is None or spec.origin is None:
        return None
    try:
        table = os.stat(Path(spec.origin).with_name("data.py"))
    except OSError:
        return None
    return f"{table.st_size}:{table.st_mtime_ns}:{time.strftime('%Y-%m-%d', time.gmtime())}"
