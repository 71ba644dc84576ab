"""Keys before streamed text.

While answers stream as fast as a provider can send them, drawing them can take most of
every frame. A key typed meanwhile would wait behind that work, so the streamed text
steps aside for a moment: from when a key is read from the terminal until `QUIET_S`
after the app has taken it, nothing streamed is drawn, and the key's own frame (the
composer alone) is painted first.
Text still reaches the screen at least every `MAX_WAIT_S` while someone types on and on.

The key is noted where Textual's driver reads it (its input thread), before it waits in
the event loop's queue behind the streamed work: `keys_first(driver_class)`.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.driver import Driver
    from textual.message import Message

QUIET_S = 0.03  # after a key reaches the app, streamed text waits this long (its frame comes first)
MAX_WAIT_S = 0.25  # and never longer than this in all

_read = float("-inf")  # the last key read from the terminal
_handled = float("-inf")  # the last key the app took


def key_read() -> None:
    """A key was read from the terminal (in Textual's input thread)."""
    global _read
    _read = time.perf_counter()


def key_handled() -> None:
    """A key reached the app: its frame is next."""
    global _handled
    _handled = time.perf_counter()


def hold_for(waiting_since: float) -> float:
    """Seconds the streamed text should wait yet, given it has waited since `waiting_since`
    (a `time.perf_counter()`); 0 to draw it now. While a key read is still on its way to
    the app, the text waits for it (a frame of streamed text would go first)."""
    now = time.perf_counter()
    left = waiting_since + MAX_WAIT_S - now
    if left <= 0:
        return 0.0
    if key_waiting():
        return min(QUIET_S, left)
    return max(0.0, min(_handled + QUIET_S - now, left))


def key_waiting() -> bool:
    """A key has been read from the terminal and the app has not taken it yet."""
    return _read > _handled and time.perf_counter() - _read < MAX_WAIT_S


def key_pending() -> float:
    """Seconds other work should step aside for a key now: a short wait while a key is
    on its way to the app or its frame is still to come, else 0."""
    if key_waiting() or time.perf_counter() - _handled < QUIET_S:
        return 0.005
    return 0.0


@functools.cache
def keys_first(driver: type[Driver]) -> type[Driver]:
    """`driver`, noting each key as its input thread reads it."""
    from textual import events

    def process_message(self: Driver, message: Message) -> None:
        if isinstance(message, events.Key):
            key_read()
        driver.process_message(self, message)

    return type(f"KeysFirst{driver.__name__}", (driver,), {"process_message": process_message})
