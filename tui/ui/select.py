"""Selecting any message of the chat from the keyboard, and what keys do with it.

The chat pane holds the selection (an index into its items) and binds the keys below;
whether a key applies to the selected message, and what it does, is decided here from
the conversation: copy, copy code blocks one at a time, quote, regenerate, step through
alternatives, edit, pick an answer of a round, vote on a blind compare. The same round
keys exist app-wide (alt+1..9, alt+a/b/t) while they apply.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from textual.binding import Binding, BindingType

from tui.core.events import ParallelEvent, TimelineEvent, VoteEvent

if TYPE_CHECKING:
    from typing import Any as ChatPane  # the chat pane: a type import of it would close a cycle

    from tui.core.conversation import Conversation
    from tui.core.types import Message

    from .views import Item

    # The app: the steering commands' host, with a clipboard. Named loosely here, since a
    # type import of steering (which shows things in the chat) would close a cycle.
    Host = Any


# Most terminals send alt+1..9 as escape then the digit, which Textual reads as the
# characters macOS types for option+1..9 (as it does on macOS): these keys are alt+1..9 too.
# (alt+b reaches Textual as ctrl+left in those terminals: alt+2 votes B as well.)
ALT_DIGITS = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign", "infinity",
              "section_sign", "pilcrow_sign", "bullet", "ª")

# key(s), what, its argument, footer text, shown in the footer, how the footer shows the key
KEYS: list[tuple[str, str, object, str, bool, str | None]] = [
    ("a", "vote", "A", "Vote A", True, None),
    ("b", "vote", "B", "Vote B", True, None),
    ("t", "vote", "tie", "Tie", True, None),
    *((str(n), "pick", n, "Pick", n == 1, "1-9") for n in range(1, 10)),
    ("c", "copy", None, "Copy", True, None),
    ("b", "code", None, "Code", True, None),
    ("q", "quote", None, "Quote", True, None),
    ("e", "edit", None, "Edit", True, None),
    ("r", "regen", None, "Again", True, None),
    ("R", "regen_with", None, "Again with", True, None),
    ("left", "step", -1, "Alternative", True, "←→"),
    ("right", "step", 1, "", False, None),
    ("up,k", "move", -1, "Move", True, "↑↓"),
    ("down,j", "move", 1, "", False, None),
    ("escape", "leave", None, "Back", True, None),
]
BINDINGS: list[BindingType] = [Binding(keys, f"act({name!r}, {arg!r})", text, show=show, key_display=display)
            for keys, name, arg, text, show, display in KEYS]
_TAKES: dict[str, list[tuple[str, object]]] = {}
for _keys, _name, _arg, *_ in KEYS:
    for _key in _keys.split(","):
        _TAKES.setdefault(_key, []).append((_name, _arg))

CODE_BLOCK = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of `markdown`, in order, without their fences."""
    return [m.group(2).rstrip("\n") for m in CODE_BLOCK.finditer(markdown)]


def _host(chat: ChatPane) -> Host:
    return cast("Host", chat.app)


# ------------------------------------------------------------------ the conversation


def alternative_place(conversation: Conversation, message_id: str) -> tuple[int, int] | None:
    """Which of its question's answers `message_id` is, when there is more than one."""
    if message_id not in conversation.nodes:
        return None
    answers = [m for m in conversation.siblings(message_id) if m.role == "assistant"]
    ids = [m.id for m in answers]
    return (ids.index(message_id) + 1, len(ids)) if len(ids) > 1 and message_id in ids else None


def latest_round(conversation: Conversation) -> tuple[Message, list[Message]] | None:
    """The latest round on the branch, its question and answers, if it can be picked from
    (not a blind compare, no synthesis): what /pick acts on."""
    return conversation.memo("latest_round", lambda: _latest_round(conversation))


def _latest_round(conversation: Conversation) -> tuple[Message, list[Message]] | None:
    nodes = conversation.nodes
    for message in reversed(conversation.path()):
        answers = [nodes[c] for c in conversation.children.get(message.id, ())
                   if nodes[c].lane not in (None, "judge") and not nodes[c].partial]
        if not answers:
            continue
        for e in conversation.events:
            if getattr(e, "at", None) == message.id and (
                    (e.type == "round" and getattr(e, "kind", "") == "compare")
                    or (isinstance(e, ParallelEvent) and e.synthesis is not None)):
                return None
        return message, answers
    return None


def pending_compare(conversation: Conversation) -> Message | None:
    """The question of the blind compare waiting for a vote, if there is one."""
    return conversation.memo("pending_compare", lambda: _pending_compare(conversation))


def _pending_compare(conversation: Conversation) -> Message | None:
    question = next((m for m in reversed(conversation.path()) if m.role == "user"), None)
    if question is None:
        return None
    lanes = {conversation.nodes[c].lane for c in conversation.children.get(question.id, ())}
    if not {"A", "B"} <= lanes or any(isinstance(e, VoteEvent) and e.at == question.id
                                      for e in conversation.events):
        return None
    return question if _is_compare(conversation.events, question.id) else None


def _is_compare(events: list[TimelineEvent], question_id: str) -> bool:
    return any(e.type == "round" and getattr(e, "kind", "") == "compare" and getattr(e, "at", None) == question_id
               for e in events)


def round_key_applies(conversation: Conversation, name: str, arg: object) -> bool:
    """Whether /pick N (`name` "pick") or a vote applies now, from anywhere."""
    if name == "vote":
        return pending_compare(conversation) is not None
    found = latest_round(conversation)
    return found is not None and isinstance(arg, int) and 1 <= arg <= len(found[1])


def message_of(chat: ChatPane, item: Item) -> Message | None:
    """The message an item shows (found on the branch by its text when it was shown
    before the conversation had it)."""
    conversation = _host(chat).conversation
    if item.kind not in ("user", "answer"):
        return None
    if item.ref is not None:
        return conversation.nodes.get(item.ref)
    role, text = ("user" if item.kind == "user" else "assistant"), item.search()
    found = next((m for m in reversed(conversation.path()) if m.role == role and m.content == text), None)
    item.ref = found.id if found is not None else None
    return found


def question_of(conversation: Conversation, message: Message) -> Message | None:
    node = message.parent
    while node is not None and node in conversation.nodes:
        if conversation.nodes[node].role == "user":
            return conversation.nodes[node]
        node = conversation.nodes[node].parent
    return None


# ------------------------------------------------------------------ the keys


def selected_text(chat: ChatPane) -> tuple[str, str]:
    """What the selected message says, and what it is ("answer", "question", "round")."""
    from .views import RoundView

    widget = chat.selected_widget()
    if isinstance(widget, RoundView):
        return "\n\n".join(f"{view.model}:\n{view.text}" for view in widget.lanes.values()), "round"
    item = chat.selected_item()
    return str(getattr(widget, "text", "")), "question" if item is not None and item.kind == "user" else "answer"


def takes(chat: ChatPane, key: str) -> bool:
    """Whether a key does something to the selection now."""
    return any(applies(chat, name, arg) for name, arg in _TAKES.get(key, ()))


def applies(chat: ChatPane, name: object, arg: object = None) -> bool:
    """Whether the key for `name` (with `arg`) does something to the selected message."""
    item = chat.selected_item()
    if item is None:
        return False
    if name in ("move", "leave", "copy", "quote"):
        return True
    conversation = _host(chat).conversation
    if name == "vote":  # on the compare waiting for a vote
        question = pending_compare(conversation) if item.kind == "round" else None
        return question is not None and item.ref == question.id
    if name == "pick":  # on the round /pick acts on
        found = latest_round(conversation) if item.kind == "round" else None
        return found is not None and item.ref == found[0].id and isinstance(arg, int) and arg <= len(found[1])
    if name == "code":
        return not applies(chat, "vote", "B") and bool(code_blocks(selected_text(chat)[0]))
    message = message_of(chat, item)
    if message is None:
        return False
    if name == "edit":
        return message.role == "user"
    if message.role != "assistant":
        return False
    if name in ("regen", "regen_with"):
        return question_of(conversation, message) is not None
    if name == "step":
        return alternative_place(conversation, message.id) is not None
    return False


async def act(chat: ChatPane, name: str, arg: object = None) -> None:
    from tui.core.commands import Command

    host = _host(chat)
    item = chat.selected_item()
    if item is None:
        return
    if name == "move" and isinstance(arg, int):
        index = chat.next_selectable(chat.selected, arg)
        if index is not None:
            await chat.select(index)
    elif name == "leave":
        await leave(chat)
    elif name == "copy":
        text, what = selected_text(chat)
        host.copy_to_clipboard(text)
        host.notify(f"{what} copied ({len(text):,} characters)")
    elif name == "code":
        blocks = code_blocks(selected_text(chat)[0])
        turn = chat.code_turn % len(blocks)
        chat.code_turn = turn + 1
        host.copy_to_clipboard(blocks[turn])
        host.notify(f"code block {turn + 1}/{len(blocks)} copied")
    elif name == "quote":
        await leave(chat, quote(selected_text(chat)[0]), block=True)
    elif name == "pick":
        await host.run_command(Command("pick", text=str(arg)))
        await leave(chat)
    elif name == "vote":
        await host.run_command(Command("vote", text=str(arg)))
        await leave(chat)
    else:
        await _on_message(chat, host, name, arg)


async def _on_message(chat: ChatPane, host: Host, name: str, arg: object) -> None:
    steer = host.steering()  # the app hands over its steering commands (no import: a cycle)
    item = chat.selected_item()
    message = message_of(chat, item) if item is not None else None
    if message is None:
        return
    if name == "edit":
        await steer.edit_question(host, message)
        return
    if name == "step" and isinstance(arg, int):
        shown = await steer.step_alternative(host, message, arg)
        index = next((i for i, it in enumerate(chat.items) if it.ref == shown), None)
        if index is not None:
            await chat.select(index)
        return
    question = question_of(host.conversation, message)
    if question is None:
        return
    if name == "regen":
        await leave(chat)
        await steer.regen_question(host, question.id, None)
    elif name == "regen_with":
        await leave(chat)
        steer.regen_question_with(host, question.id)


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines()) + "\n\n"


async def leave(chat: ChatPane, typed: str = "", *, block: bool = False) -> None:
    """Back to the composer and the end of the chat, with `typed` added at the end of what
    the composer holds (a `block` starts on a line of its own)."""
    from textual.widgets import TextArea  # the composer's base: importing Composer would close a cycle

    composer = chat.app.query_one("#composer", TextArea)
    if block and composer.text and not composer.text.endswith("\n"):
        typed = "\n\n" + typed
    if typed:
        composer.move_cursor(composer.document.end)
        composer.insert(typed)
    chat.screen.set_focus(composer)  # now, not later: keys typed on go there
    await chat.select(None)
    await chat.show_end()  # and follow what arrives again
