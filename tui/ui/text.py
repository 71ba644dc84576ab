"""Model output and model names are untrusted text: make control characters visible.

Nothing here parses markup: callers put the result in `Content` objects (never markup
strings) or in a Markdown widget, so `[bold]` stays literal and an escape sequence
shows as `␛[31m` instead of reaching the terminal.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and the C1 range (8-bit CSI, OSC, ...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture": ␛ for ESC
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


def visible(text: str) -> str:
    """`text` with every control character other than tab and newline made visible."""
    return _CONTROL.sub(_picture, text.replace("\r\n", "\n"))


def one_line(text: str, limit: int = 80) -> str:
    """`text` on one visible line of at most `limit` characters."""
    flat = visible(_SPACES.sub(" ", text).strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

COMPOSER_HINT = "Message, or /help  (enter sends · ctrl+j new line)"
