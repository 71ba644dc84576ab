"""Text from outside (provider error bodies, server messages, model ids) is untrusted:
this is the one place that makes its control characters harmless before it is shown.

An escape sequence in such text could set the clipboard (OSC 52), the window title or
clear the screen if it reached the terminal. Here every C0 control except tab and
newline, DEL and every C1 control becomes a visible stand-in, so `ESC]52;...` shows
as `␛]52;...`.
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
    return f"\\x{code:02x}"  # C1 has no pictures: \x9b


def neutralise(text: str) -> str:
    """`text` with every control character other than tab and newline made visible."""
    return _CONTROL.sub(_picture, text.replace("\r\n", "\n"))


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one visible line of at most `limit` characters."""
    flat = neutralise(_SPACES.sub(" ", text).strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
