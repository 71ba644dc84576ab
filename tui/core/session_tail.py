"""Opening a long session fast: its header and the end of its active branch, read
without parsing the whole file, to show while the whole file is read and checked.

Baton writes every session the same way (`save_session`): the top-level keys, the
`[profile]` tables, every `[[messages]]`, then every `[[events]]`. `peek_session` relies
on that layout and checks it as it goes: the header must parse on its own, each tail
it cuts must parse and fit, the active leaf and enough of its branch must be found.
Anything else (a hand-edited file, another order, an odd value, a cut that lands inside
a multi-line string) gives None, and the caller reads the whole file as before. What it
returns is only shown: the whole file is still parsed, validated and trusted before
anything runs (see `PreviewConversation`).
"""

from __future__ import annotations

import mmap
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .conversation import Conversation
from .events import TimelineEvent
from .files.schema import SchemaError
from .preview import PreviewConversation
from .profile import Profile
from .session import VERSION, SessionError, load_session, message_from_dict, session_from_dict
from .types import Message

SMALL = 64 * 1024  # bytes: a file this short is read whole before the first frame (under ~20 ms)
SHOWN = 40  # messages of the active branch for the first screen (the chat builds its last 25 items)
FIRST_CUT = 64  # message tables parsed at first; doubled while the branch is not found
LAST_CUT = 4096
RETRIES = 8  # a cut inside a multi-line string does not parse: try the header before it

_MESSAGES = b"\n[[messages]]\n"
_EVENTS = b"\n[[events]]\n"

T = TypeVar("T")


@dataclass
class Preview:
    profile: Profile
    conversation: PreviewConversation


def peek_session(path: Path | str, screen: tuple[int, int] | None = None) -> Preview | None:
    """The header and the end of the active branch of a session Baton wrote, or None
    when the file is small, not in Baton's layout, or anything in the tail is odd.
    With `screen` (columns, rows), only as many messages as fill it."""
    try:
        with open(path, "rb") as f:
            if not f.read(16).startswith(f"version = {VERSION}\n".encode()) or os.fstat(f.fileno()).st_size < SMALL:
                return None
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _peek(data, screen)
    except (OSError, ValueError, SchemaError, RecursionError):  # TOMLDecodeError and UnicodeDecodeError too
        return None


def _peek(data: mmap.mmap, screen: tuple[int, int] | None) -> Preview | None:
    start = data.find(_MESSAGES)
    if start < 0:
        return None  # no messages: the whole file is small
    header = tomllib.loads(data[: start + 1].decode("utf-8-sig"))
    if "messages" in header or header.get("events", []) != [] or not isinstance(header.get("leaf"), str):
        return None
    profile, empty = session_from_dict(header)  # the header checked as the full load checks it
    if empty.skipped:
        return None
    end = data.find(_EVENTS, start)
    end = len(data) if end < 0 else end
    leaf: str = header["leaf"]
    count = FIRST_CUT
    while True:
        messages, whole = _tail(data, _MESSAGES, start, end, count, _message_tables)
        if messages is None:
            return None
        branch = _branch(messages, leaf)
        if branch is not None:
            break
        if whole or count >= LAST_CUT:
            return None
        count *= 2
    events, _ = _tail(data, _EVENTS, end, len(data), count, _event_tables) if end < len(data) else ([], True)
    if events is None:
        return None
    kept = {m.id for m in (_screenful(branch, *screen) if screen else branch)}
    shown = [m for m in messages if m.id in kept or (m.lane is not None and m.parent in kept)]
    conversation = PreviewConversation(shown, events, active_model=empty.active_model, title=empty.title, leaf=leaf)
    return Preview(profile, conversation)


def _tail(
    data: mmap.mmap, marker: bytes, start: int, end: int, count: int, parse: Callable[[str], list[T]]
) -> tuple[list[T] | None, bool]:
    """The last `count` tables of the section [start, end) that starts with `marker`,
    parsed, and whether that is the whole section; None if no cut near there parses."""
    cut = end
    for _ in range(count):
        found = data.rfind(marker, start, cut)
        if found < 0:
            break
        cut = found
    for _ in range(RETRIES):
        try:
            return parse(data[cut + 1 : end].decode("utf-8")), cut <= start
        except (ValueError, SchemaError):  # TOMLDecodeError, RecordError, UnicodeDecodeError
            if cut <= start:
                return None, True
            cut = max(start, data.rfind(marker, start, cut))
    return None, False


def _message_tables(text: str) -> list[Message]:
    table = tomllib.loads(text)
    if set(table) != {"messages"} or not isinstance(table["messages"], list):
        raise ValueError("not only messages")
    out = [message_from_dict(raw, ("messages", i)) for i, raw in enumerate(table["messages"])]
    if any(not m.id for m in out):
        raise ValueError("a message without an id")
    return out


def _event_tables(text: str) -> list[TimelineEvent]:
    table = tomllib.loads(text)
    if set(table) != {"events"} or not isinstance(table["events"], list):
        raise ValueError("not only events")
    return [TimelineEvent.from_record(raw) for raw in table["events"]]


def _screenful(branch: list[Message], columns: int, rows: int) -> list[Message]:
    """The newest messages of `branch` (newest first) whose text, wrapped, fills `rows`
    (more than the chat's part of them): a message takes its text and its name line and a
    blank one at least, so the chat, anchored at its end, shows the same as with them all."""
    width = max(20, columns - 10)
    left = rows + 2
    out: list[Message] = []
    for message in branch:
        out.append(message)
        left -= 2 + sum(1 + len(line) // width for line in message.content.split("\n"))
        if left <= 0:
            break
    return out


def _branch(messages: list[Message], leaf: str) -> list[Message] | None:
    """The end of the branch to `leaf` among `messages`, newest first: SHOWN messages, or
    all of it back to the first message; None if these tables do not hold that much."""
    by_id = {m.id: m for m in messages}
    out: dict[str, Message] = {}
    node: str | None = leaf
    while node is not None and len(out) < SHOWN:
        message = by_id.get(node)
        if message is None or node in out:
            return None
        out[node] = message
        node = message.parent
    return list(out.values())



# ------------------------------------------------------- the whole file, apart


def load_session_apart(path: Path | str) -> tuple[Profile, Conversation]:
    """`load_session` in a child interpreter: parsing megabytes of TOML there keeps this
    process's GIL (its screen) free. The child sends back the result pickled (this
    process's own data: it never unpickles anything from the file) or the SessionError's
    parts; if the child itself cannot run, the file is read here."""
    import pickle
    import subprocess
    import sys

    import tui

    root = str(Path(tui.__file__).resolve().parent.parent)
    kind: str
    value: Any
    code = f"import sys; sys.path.insert(0, {root!r}); from tui.core.session_tail import _child; _child()"
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, check=False,
                              stdin=subprocess.DEVNULL)
        kind, value = pickle.loads(done.stdout) if done.returncode == 0 else ("", None)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        kind, value = "", None
    if kind == "session":
        profile, conversation = value
        return profile, conversation
    if kind == "error":
        where, message, key, line, col = value
        raise SessionError(where, message, key=key, line=line, col=col)
    return load_session(path)


def _child() -> None:
    """The child of `load_session_apart`: one pickle on stdout, exit status 0."""
    import pickle
    import sys

    try:
        profile, conversation = load_session(sys.argv[1])
        conversation.problems = []  # placed already (`skipped`); not all of them pickle
        out: tuple[str, object] = ("session", (profile, conversation))
    except SessionError as error:
        out = ("error", (error.path, error.message, error.key, error.line, error.col))
    sys.stdout.buffer.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
