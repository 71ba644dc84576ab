"""How long a server asks us to wait before trying again, from its response headers."""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime

# OpenAI writes durations Go-style: "1s", "6m0s", "20ms", "1h2m3.5s".
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# Limits whose reset a 429 may be waiting on: OpenAI-style and Anthropic's.
_LIMITS = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("x-ratelimit-remaining", "x-ratelimit-reset"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
    ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
    ("anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
    ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
)


def retry_after(headers: Mapping[str, str], status: int | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or HTTP date); on a
    429 without them, from the rate-limit reset headers."""
    ms = headers.get("retry-after-ms")
    if ms:
        value = _number(ms)
        if value is not None:
            return value / 1000
    raw = headers.get("retry-after")
    if raw:
        seconds = _number(raw)
        if seconds is not None:
            return seconds
        if not _is_number(raw):
            when = _http_date(raw)
            if when is not None:
                return when
    return reset_after(headers) if status == 429 else None


def reset_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until the exhausted limit resets: the latest reset among limits with
    nothing remaining, else (none says which) the earliest reset given."""
    exhausted: list[float] = []
    given: list[float] = []
    for remaining_name, reset_name in _LIMITS:
        raw = headers.get(reset_name)
        seconds = _reset_seconds(raw) if raw else None
        if seconds is None:
            continue
        given.append(seconds)
        if (headers.get(remaining_name) or "").strip() == "0":
            exhausted.append(seconds)
    if exhausted:
        return max(exhausted)
    return min(given) if given else None


def _reset_seconds(raw: str) -> float | None:
    """A reset as a duration ("6m0s"), seconds, a Unix time, or an RFC 3339 time."""
    raw = raw.strip()
    value = _number(raw)
    if value is not None:
        if value > 1e12:  # a Unix time in milliseconds
            return max(0.0, value / 1000 - time.time())
        if value > 1e9:  # a Unix time in seconds
            return max(0.0, value - time.time())
        return value
    parts = _DURATION.findall(raw)
    if parts and "".join(n + u for n, u in parts) == raw:
        return sum(float(n) * _UNIT_S[u] for n, u in parts)
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_number(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def _number(raw: str) -> float | None:
    """A finite number of seconds, at least 0; None for anything else."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


def _http_date(raw: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when.timestamp() - time.time())
