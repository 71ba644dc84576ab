"""Model output and model names are untrusted text: make control characters visible.

Nothing here parses markup: callers put the result in `Content` objects (never markup
strings) or in a Markdown widget, so `[bold]` stays literal and an escape sequence
shows as `␛[31m` instead of reaching the terminal.
"""

from __future__ import annotations

from tui.core.text import neutralise
from tui.core.text import one_line as core_one_line


def visible(text: str) -> str:
    """`text` with every control character other than tab and newline made visible."""
    return neutralise(text)


def one_line(text: str, limit: int = 80) -> str:
    """`text` on one visible line of at most `limit` characters."""
    return core_one_line(text, limit)


COMPOSER_HINT = "Message, or /help  (enter sends · ctrl+j new line)"


def dollars(usd: float) -> str:
    """A cost as the screen shows it: to a hundredth of a cent, and a cost too small for
    that as "<$0.0001", never as "$0.0000", which reads as free."""
    return f"<${0.0001:.4f}" if 0 < usd < 0.00005 else f"${usd:.4f}"
