"""How full a model's context window is: the window (the profile's, else the price
table's) and an estimate of what the branch would send (4 characters a token)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .models import ModelSpec
from .types import Message

CHARS_PER_TOKEN = 4
WARN_AT = 0.8


@dataclass(frozen=True)
class Meter:
    used: int  # tokens, estimated
    window: int | None  # tokens; None when unknown

    @property
    def fraction(self) -> float | None:
        return self.used / self.window if self.window else None

    @property
    def warn(self) -> bool:
        return self.fraction is not None and self.fraction >= WARN_AT

    def label(self) -> str:
        if self.window is None:
            return f"context ~{self.used:,} tok (window unknown)"
        return f"context {self.fraction or 0:.0%} of {self.window:,}"


def estimate_tokens(messages: list[Message], system: str | None = None) -> int:
    chars = len(system or "") + sum(len(m.content) + 16 for m in messages)
    return chars // CHARS_PER_TOKEN


def window(spec: ModelSpec) -> int | None:
    return spec.context_window or _table_window(spec.provider.name, spec.model_id)


def meter(spec: ModelSpec, messages: list[Message], system: str | None = None) -> Meter:
    return Meter(estimate_tokens(messages, system), window(spec))


def window_known(spec: ModelSpec) -> bool:
    """Whether `window(spec)` answers at once: otherwise it may read the table (a fifth
    of a second, once a day), which the app does in a thread."""
    return bool(spec.context_window) or (spec.provider.name, spec.model_id) in _looked_up


_looked_up: set[tuple[str, str]] = set()


@lru_cache(maxsize=256)
def _table_window(provider: str, model_id: str) -> int | None:
    """The window genai-prices' bundled snapshot knows for a model (no network)."""
    from .pricing import table_window

    try:
        return table_window(provider, model_id)
    finally:
        _looked_up.add((provider, model_id))
