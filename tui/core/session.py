"""Sessions: a profile plus its conversation, saved as TOML and exported as Markdown.

```toml
version = 2
title = "..."
active_model = "writer"
leaf = "3f2a..."   # the message the conversation goes on from
[profile]          # the profile, as profile_to_dict writes it
[[messages]]       # id, parent, role, content, model, tool_calls, tool_call_id, tool_name,
                   # is_error, partial, lane: every message of the tree, parents first
[[events]]         # timeline records; TOML has no null, so None values are left out
```

`session_tail.peek_session` reads the end of a long session without parsing all of it,
relying on the order written here (top-level keys, `[profile]`, messages, events); a file
in any other order is read whole.

Version 1 files (a flat list of messages) load as a single branch and are saved as
version 2. A message or event that does not fit is skipped and named in
`Conversation.skipped`; a file whose top level does not fit is refused in one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import secrets
from pathlib import Path
from typing import Any

from .conversation import Conversation
from .events import RecordError, TimelineEvent
from .files.tomlfile import has_carriage_return, toml_string_parts
from .preview import PreviewConversation, StillLoading
from .profile import Profile
from .profile_io import (
    FileFormatError,
    Invalid,
    KeyPath,
    atomic_write,
    convert,
    dump_toml,
    parse_toml,
    place_error,
    profile_from_table,
    profile_to_dict,
    read_text,
)
from .types import Media, Message, Role, ToolCall

VERSION = 2


class SessionError(FileFormatError):
    """A session file that cannot be read, is not TOML, or does not fit the format."""


# --------------------------------------------------------------------- writing


def to_toml_value(obj: Any) -> Any:
    """Record data as TOML can hold it: None dropped at every depth, tuples as arrays."""
    if obj is None or isinstance(obj, (str, bool, int, float, datetime.date, datetime.time)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_toml_value(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_toml_value(v) for v in obj if v is not None]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_toml_value(dataclasses.asdict(obj))
    return str(obj)  # an odd value in a record should not stop the session being saved


def message_to_dict(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"id": m.id}
    if m.parent is not None:
        d["parent"] = m.parent
    d.update(role=m.role, content=m.content)
    if m.model is not None:
        d["model"] = m.model
    if m.tool_calls:
        d["tool_calls"] = [
            {"id": c.id, "name": c.name, "arguments": to_toml_value(c.arguments)} for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        d["tool_call_id"] = m.tool_call_id
    if m.tool_name is not None:
        d["tool_name"] = m.tool_name
    if m.is_error:
        d["is_error"] = True
    if m.partial:
        d["partial"] = True
    if m.lane is not None:
        d["lane"] = m.lane
    if m.reasoning:
        d["reasoning"] = m.reasoning
    if m.thinking:
        d["thinking"] = [{"text": t, "signature": s, "redacted": r} for t, s, r in m.thinking]
    if m.media:
        d["media"] = [{"kind": x.kind, "mime_type": x.mime_type, "data": x.data, "size": x.size} for x in m.media]
    return d


def session_to_dict(profile: Profile | dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    """The session as TOML data. In another thread, pass the profile already as a dict
    and a `Conversation.snapshot()`: both are then copies the app no longer changes."""
    if isinstance(conversation, PreviewConversation):
        raise StillLoading  # its end only: saving it would drop the rest of the file
    d: dict[str, Any] = {"version": VERSION, "title": conversation.title}
    if conversation.active_model is not None:
        d["active_model"] = conversation.active_model
    if conversation.leaf is not None:
        d["leaf"] = conversation.leaf
    d["profile"] = profile if isinstance(profile, dict) else profile_to_dict(profile)
    d["messages"] = [message_to_dict(m) for m in conversation]
    d["events"] = [to_toml_value(e.to_record()) for e in conversation.events]
    return d


def save_session(path: Path | str, profile: Profile, conversation: Conversation) -> None:
    """Write the session atomically: after a crash the file is the old one or the new one."""
    SessionWriter().write(path, profile_to_dict(profile), conversation)


class SessionWriter:
    """Writes one session again and again (the autosave), its TOML made a piece at a time.

    Messages and timeline events never change once added, so each one's `[[messages]]` or
    `[[events]]` table is made once and kept (with the object, so its id is not reused);
    a save makes the header and what is new, and joins. At 20,000 messages a save held
    the GIL for about a second of pure Python, which the event loop felt as late keys.
    The first save cuts its pieces out of the whole file, which it makes in one go (or,
    for a session just opened, out of the file it was read from). The file reads as
    `dump_toml(session_to_dict(...))` does, every message and event a table of its own
    (the order `session_tail` relies on). In another thread, pass copies: the profile as a
    dict and a `Conversation.snapshot()`."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[object, list[str]]] = {}
        self._opened: tuple[Path, list[Message], list[TimelineEvent]] | None = None

    def opened(self, path: Path, conversation: Conversation) -> None:
        """The session was just read from `path`: the first save takes its tables from there."""
        self._opened = (path, list(conversation), list(conversation.events))

    def write(self, path: Path | str, profile: dict[str, Any], conversation: Conversation) -> None:
        try:
            pieces = self.pieces(profile, conversation)
        except (TypeError, ValueError) as exc:
            raise SessionError(str(path), f"cannot be written as TOML: {exc}") from None
        atomic_write(Path(path), pieces)

    def text(self, profile: dict[str, Any], conversation: Conversation) -> str:
        return "".join(self.pieces(profile, conversation))

    def pieces(self, profile: dict[str, Any], conversation: Conversation) -> list[str]:
        """The file, in pieces to write one after the other (an answer's text among them
        as its own string where it needs no escapes: a huge answer is not copied)."""
        if not self._kept and self._opened is not None:
            path, messages, events = self._opened
            self._opened = None
            with contextlib.suppress(OSError, UnicodeDecodeError):
                self._keep_pieces(path.read_text(encoding="utf-8"), messages, events)
        if not self._kept and not _holds_long(conversation):
            # The first save: in one piece (half the time), cut up to be kept. Not with a
            # long text in it: tomli_w writes a string a character at a time.
            text = dump_toml(session_to_dict(profile, conversation))
            self._keep_pieces(text, list(conversation), conversation.events)
            return [text]
        head = session_to_dict(profile, Conversation(active_model=conversation.active_model, title=conversation.title))
        if conversation.leaf is not None:
            head["leaf"] = conversation.leaf
        kept: dict[int, tuple[object, list[str]]] = {}
        pieces: list[str] = []

        def piece(name: str, item: Message | TimelineEvent) -> list[str]:
            hit = self._kept.get(id(item))
            if hit is not None and hit[0] is item:
                parts = hit[1]
            else:
                made = message_to_dict(item) if isinstance(item, Message) else to_toml_value(item.to_record())
                parts = _table_of(name, made)
            if not (isinstance(item, Message) and item.partial and sum(map(len, parts)) > _KEEP_PARTIAL):
                kept[id(item)] = (item, parts)  # (a snapshot's partial answer is new each time: not kept)
            return parts

        for name, items in (("messages", list(conversation)), ("events", conversation.events)):
            if items:
                del head[name]
                for item in items:
                    pieces += ["\n", *piece(name, item)]
        self._kept = kept
        return [dump_toml(head), *pieces]

    def _keep_pieces(self, text: str, messages: list[Message], events: list[TimelineEvent]) -> None:
        """Keep each item's table, cut out of a whole file written from exactly `messages`
        and `events`. Every table must be where it is expected, each message's with its
        id; a marker inside a text makes more tables than items, and nothing is kept."""
        found = [(m.group(1), m.start() + 1) for m in re.finditer(r"\n\[\[(messages|events)\]\]\n", text)]
        if not found or len(found) != len(messages) + len(events):
            return
        if any(name != "messages" for name, _ in found[: len(messages)]):
            return
        ends = [start - 1 for _, start in found[1:]] + [len(text)]
        pieces = [text[start:end] for (_, start), end in zip(found, ends, strict=True)]
        kept: dict[int, tuple[object, list[str]]] = {}
        for message, piece in zip(messages, pieces, strict=False):
            if not piece.startswith(f'[[messages]]\nid = "{message.id}"\n'):
                return
            kept[id(message)] = (message, [piece])
        for event, piece in zip(events, pieces[len(messages):], strict=True):
            kept[id(event)] = (event, [piece])
        self._kept = kept


_LONG = 1024  # strings longer than this are written by `toml_string_parts`
_KEEP_PARTIAL = 1 << 20  # a partial answer's table longer than this is made again at each save
_NEVER_INLINE = {"x": "x" * 128}  # longer than a line: tomli_w writes its array as tables
_TAILS: dict[str, str] = {}


def _holds_long(conversation: Conversation) -> bool:
    """Some message or event of `conversation` has a string longer than `_LONG`."""
    def long(value: Any) -> bool:
        if isinstance(value, str):
            return len(value) > _LONG
        if isinstance(value, dict):
            return any(long(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(long(v) for v in value)
        return False

    return (any(long(m.content) or long(m.reasoning) or long(m.thinking) for m in conversation)
            or any(long(e.to_record()) for e in conversation.events))


def _table_of(name: str, item: dict[str, Any], *, quick: bool = True) -> list[str]:
    """`item` as one `[[name]]` table, in pieces: dumped beside a table that cannot be
    inline (so the array is tables whatever `item`'s length), which is then cut off.

    Its long strings, at any depth (an answer streaming in, saved again and again; a
    round's answers in its event), are written by `toml_string_parts`, not tomli_w: the
    same text, made in a fraction of the time that the autosave's thread held the GIL for
    (the event loop's keys and frames wait on it), and left as pieces of their own, not
    copied into the table's."""
    marks: dict[str, str] = {}  # '"mark"' -> the long string it stands for

    def marked(value: Any) -> Any:
        if isinstance(value, str):
            if not quick or len(value) <= _LONG or "\r" in value:
                return value
            mark = f"baton-{secrets.token_hex(8)}"
            marks[f'"{mark}"'] = value
            return mark
        if isinstance(value, dict):
            return {k: marked(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [marked(v) for v in value]
        return value

    text = dump_toml({name: [marked(item), _NEVER_INLINE]})
    tail = _TAILS.get(name)
    if tail is None:
        tail = _TAILS[name] = "\n" + dump_toml({name: [_NEVER_INLINE] * 2}).partition("\n\n")[2]
    if not text.startswith(f"[[{name}]]\n") or not text.endswith(tail):
        raise ValueError(f"{name} could not be written as a table")
    text = text[: -len(tail)]
    if not marks:
        return [text]
    if any(text.count(mark) != 1 for mark in marks):  # not written as expected: tomli_w writes it all
        return _table_of(name, item, quick=False)
    multiline = not has_carriage_return(item)  # as dump_toml decides it for the whole item
    parts: list[str] = []
    done = 0
    for at, mark in sorted((text.index(mark), mark) for mark in marks):  # (tomli_w writes sub-tables last)
        parts += [text[done:at], *toml_string_parts(marks[mark], multiline=multiline)]
        done = at + len(mark)
    return [*parts, text[done:]]


# --------------------------------------------------------------------- reading

_TOP_KEYS = ("version", "title", "active_model", "leaf", "profile", "messages", "events")
_MESSAGE_KEYS = (
    "id", "parent", "role", "content", "model", "tool_calls", "tool_call_id", "tool_name", "is_error", "partial",
    "lane", "reasoning", "thinking", "media",
)
_TOOL_CALL_KEYS = ("id", "name", "arguments")


def _table(value: Any, key: KeyPath, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(key, "expected a table")
    for name in value:
        if name not in known:
            raise Invalid(key + (name,), "unknown key")
    return value


def _required(d: dict[str, Any], name: str, key: KeyPath) -> Any:
    if name not in d:
        raise Invalid(key, f'missing required key "{name}"')
    return d[name]


def _optional_str(d: dict[str, Any], name: str, key: KeyPath) -> str | None:
    return convert(d[name], str, key + (name,)) if name in d else None


def _tool_call(value: Any, key: KeyPath) -> ToolCall:
    d = _table(value, key, _TOOL_CALL_KEYS)
    return ToolCall(
        id=convert(_required(d, "id", key), str, key + ("id",)),
        name=convert(_required(d, "name", key), str, key + ("name",)),
        arguments=convert(d.get("arguments", {}), dict[str, Any], key + ("arguments",)),
    )


def message_from_dict(value: Any, key: KeyPath) -> Message:
    d = _table(value, key, _MESSAGE_KEYS)
    calls = convert(d.get("tool_calls", []), list[Any], key + ("tool_calls",))
    return Message(
        role=convert(_required(d, "role", key), Role, key + ("role",)),
        content=convert(_required(d, "content", key), str, key + ("content",)),
        model=_optional_str(d, "model", key),
        tool_calls=tuple(_tool_call(c, key + ("tool_calls", i)) for i, c in enumerate(calls)),
        tool_call_id=_optional_str(d, "tool_call_id", key),
        tool_name=_optional_str(d, "tool_name", key),
        is_error=convert(d.get("is_error", False), bool, key + ("is_error",)),
        partial=convert(d.get("partial", False), bool, key + ("partial",)),
        lane=_optional_str(d, "lane", key),
        id=_optional_str(d, "id", key) or "",
        parent=_optional_str(d, "parent", key),
        reasoning=_optional_str(d, "reasoning", key) or "",
        thinking=tuple(_thinking(t, key + ("thinking", i))
                       for i, t in enumerate(convert(d.get("thinking", []), list[Any], key + ("thinking",)))),
        media=tuple(_media(x, key + ("media", i))
                    for i, x in enumerate(convert(d.get("media", []), list[Any], key + ("media",)))),
    )


def _thinking(value: Any, key: KeyPath) -> tuple[str, str, str]:
    d = _table(value, key, ("text", "signature", "redacted"))
    return (convert(d.get("text", ""), str, key + ("text",)), convert(d.get("signature", ""), str, key),
            convert(d.get("redacted", ""), str, key))


def _media(value: Any, key: KeyPath) -> Media:
    d = _table(value, key, ("kind", "mime_type", "data", "size"))
    kind = convert(_required(d, "kind", key), str, key + ("kind",))
    if kind not in ("image", "audio"):
        raise Invalid(key + ("kind",), "expected image or audio")
    return Media("image" if kind == "image" else "audio", convert(_required(d, "mime_type", key), str, key),
                 convert(_required(d, "data", key), str, key), convert(d.get("size", 0), int, key))


def _list(d: dict[str, Any], name: str) -> list[Any]:
    """An array of tables, each checked on its own (one that does not fit is skipped)."""
    value = d.get(name, [])
    if not isinstance(value, list):
        raise Invalid((name,), f"expected an array of tables, got {type(value).__name__}")
    return value


def session_from_dict(d: dict[str, Any]) -> tuple[Profile, Conversation]:
    """The profile and conversation of a parsed session table; raises Invalid for a top
    level that does not fit, and skips (naming them) messages and events that do not."""
    _table(d, (), _TOP_KEYS)
    version = convert(_required(d, "version", ()), int, ("version",))
    if version not in (1, VERSION):
        raise Invalid(("version",), f"this Baton reads session versions 1 and {VERSION}, not {version}")
    try:
        profile = profile_from_table(d.get("profile", {}))
    except Invalid as exc:
        raise Invalid(("profile",) + exc.key, exc.message) from None
    raw_messages = _list(d, "messages")
    raw_events = _list(d, "events")
    skipped: list[Invalid] = []
    messages: list[Message] = []
    for i, raw in enumerate(raw_messages):
        try:
            message = message_from_dict(raw, ("messages", i))
        except Invalid as exc:
            skipped.append(exc)
            continue
        if version == VERSION and not message.id:
            skipped.append(Invalid(("messages", i), 'missing required key "id"'))
            continue
        messages.append(message)
    events: list[TimelineEvent] = []
    for i, raw in enumerate(raw_events):
        try:
            events.append(TimelineEvent.from_record(raw))
        except RecordError as exc:
            skipped.append(Invalid(("events", i), str(exc)))
    conversation = Conversation(
        messages,
        events,
        active_model=_optional_str(d, "active_model", ()),
        title=convert(d.get("title", ""), str, ("title",)),
        leaf=_optional_str(d, "leaf", ()),
    )
    conversation.skipped = [str(e) for e in skipped]
    conversation.problems = skipped  # placed in the file by load_session
    return profile, conversation


def load_session(path: Path | str) -> tuple[Profile, Conversation]:
    """Read a session; any problem is one SessionError line (PATH:LINE:COL: ... or PATH: ...)."""
    name = str(path)
    text = read_text(Path(path), SessionError)
    data = parse_toml(text, name, SessionError)
    try:
        profile, conversation = session_from_dict(data)
        conversation.skipped = [str(place_error(e, text, name, SessionError)) for e in conversation.problems]
        return profile, conversation
    except Invalid as exc:
        raise place_error(exc, text, name, SessionError) from None
    except Exception as exc:  # a bug here must still reach the user as one line
        raise SessionError(name, f"could not read the session: {type(exc).__name__}: {exc}") from None


# -------------------------------------------------------------------- Markdown


def _fence(text: str, info: str = "") -> str:
    """`text` in a code fence longer than any run of backticks inside it."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text}\n{ticks}"


def _heading(m: Message) -> str:
    if m.role == "user":
        return "You"
    if m.role == "tool":
        label = f"Tool result: {m.tool_name}" if m.tool_name else "Tool result"
        return label + (" (error)" if m.is_error else "")
    return m.model or "Assistant"


def export_markdown(conversation: Conversation) -> str:
    """A readable transcript: each message under its author, tool calls and cut answers marked."""
    import json

    parts = [f"# {conversation.title or 'Baton session'}"]
    for m in conversation.messages:
        block = [f"## {_heading(m)}"]
        if m.role == "tool":
            block.append(_fence(m.content, "text"))
        elif m.content:
            block.append(m.content)
        if m.partial:
            block.append("*(partial answer: cut short before it finished)*")
        for call in m.tool_calls:
            arguments = json.dumps(call.arguments, indent=2, ensure_ascii=False, default=str)
            block.append(f"**Tool call** `{call.name}` (id `{call.id}`)\n\n{_fence(arguments, 'json')}")
        parts.append("\n\n".join(block))
    return "\n\n".join(parts) + "\n"
