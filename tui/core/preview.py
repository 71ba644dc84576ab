"""A conversation that is only the end of a session, shown while the whole file loads.

Kept apart from the session code so that the app can recognise one without importing
the TOML reader before its first frame.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from .conversation import Conversation


class PreviewConversation(Conversation):
    """The tail of a session's active branch, read without the rest of the file: for
    showing only. It is never saved (`session_to_dict` refuses it) and nothing runs on it
    (`Controller` refuses it); `load` reads, checks and trusts the whole file."""

    load: Callable[[], Any] | None = None


class StillLoading(ValueError):
    """Something tried to act on a session that is still loading."""

    def __init__(self) -> None:
        super().__init__("the session is still loading; try again in a moment")


async def in_daemon_thread(load: Callable[[], Any]) -> Any:
    """`load()` in a daemon thread: quitting while a long session still loads does not
    wait for it (asyncio.to_thread's pool would be joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = load(), None
        except BaseException as exc:  # handed to the awaiting task, raised there
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            return  # the app has ended meanwhile: nobody is waiting

    threading.Thread(target=run, name="session-load", daemon=True).start()
    return await future
