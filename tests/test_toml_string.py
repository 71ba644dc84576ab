"""Long strings in a saved session are written by `toml_string`, not tomli_w (which looks
at a string a character at a time, in the autosave's thread, while an answer streams):
the file reads back the same (and a string is written byte for byte as tomli_w writes
it, or as a literal string that needs no escapes)."""

from __future__ import annotations

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st
from tomli_w._writer import format_string

import tui.core.session as session
from tui.core.files.tomlfile import toml_string, toml_string_parts
from tui.core.session import _table_of, message_to_dict
from tui.core.types import Message, ToolCall

# Every character class tomli_w treats apart: controls, DEL, tab, quotes, backslashes,
# CR and LF (alone and together), and characters beyond ASCII and the BMP.
texts = st.lists(st.sampled_from(
    [chr(i) for i in range(0, 33)] + ["\x7f", '"', "\\", "\r\n", "a", "Z", " ", "é", "漢", "\U0001f600", '"""',
                                       "'", "''", "'''"])
).map("".join)


@settings(max_examples=600, deadline=None)
@given(texts, st.booleans())
def test_a_string_is_written_as_tomli_w_writes_it(text: str, multiline: bool) -> None:
    assert toml_string(text, multiline=multiline) == format_string(text, allow_multiline=multiline)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_a_string_in_pieces_reads_back_as_itself_and_a_literal_one_is_not_copied(text: str) -> None:
    parts = toml_string_parts(text, multiline="\r" not in text)
    assert tomllib.loads("x = " + "".join(parts))["x"] == text
    if parts[0] == "'''\n":
        assert parts[1] is text


@settings(max_examples=150, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4), st.booleans())
def test_a_message_with_long_text_is_the_same_table_either_way(parts: list[str], crlf: bool) -> None:
    content = "\n\n".join(part * 40 for part in parts) + "x" * (session._LONG + 1)
    message = Message(role="assistant", content=content, model="alpha", reasoning=("\r\n" if crlf else "") + "short",
                      tool_calls=(ToolCall("c1", "search", '{"q": "' + "long " * 300 + '"}'),))
    item = message_to_dict(message)
    quick = "".join(_table_of("messages", item))
    assert tomllib.loads(quick) == tomllib.loads("".join(_table_of("messages", item, quick=False)))
    assert tomllib.loads(quick)["messages"][0]["content"] == content  # (any CR: no multi-line strings)


def test_a_long_answer_is_not_handed_to_tomli_w(monkeypatch) -> None:
    import tomli_w._writer as writer

    seen: list[int] = []
    real = writer.format_string

    def watching(text: str, *, allow_multiline: bool) -> str:
        seen.append(len(text))
        return real(text, allow_multiline=allow_multiline)

    monkeypatch.setattr(writer, "format_string", watching)
    answer = "word " * 24_000 + "\n\nend\n"
    text = "".join(_table_of("messages", message_to_dict(Message(role="assistant", content=answer, model="alpha"))))
    assert tomllib.loads(text)["messages"][0]["content"] == answer
    assert seen and max(seen) < 1000  # tomli_w wrote the short values only


def test_a_long_answer_with_nothing_to_escape_is_written_from_its_own_string() -> None:
    answer = 'a "word" ' * 24_000 + "\n\nend\n"  # (quotes: nothing to escape in a literal string)
    parts = _table_of("messages", message_to_dict(Message(role="assistant", content=answer, model="alpha")))
    assert any(part is answer for part in parts)  # no copy of a huge answer on its way to the file
    assert tomllib.loads("".join(parts))["messages"][0]["content"] == answer


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=3, max_size=3))
def test_a_rounds_long_answers_nested_in_its_event_are_not_handed_to_tomli_w(parts: list[str]) -> None:
    """A round's event holds every answer in a table of its own (and the synthesis): they
    are written as its message's are, and the event reads back the same."""
    import tomli_w._writer as writer

    from tui.core.events import ParallelEvent, TimelineEvent
    from tui.core.session import to_toml_value

    answers = {lane: part * 30 + "\n" + "y" * (session._LONG + 1) for lane, part in zip("abc", parts, strict=True)}
    event = ParallelEvent(("a", "b", "c"), answers, {"b": "short error"}, "a", "z" * 5000, 1.5, at="q1")
    record = to_toml_value(event.to_record())
    seen: list[int] = []
    real = writer.format_string

    def watching(text: str, *, allow_multiline: bool) -> str:
        seen.append(len(text))
        return real(text, allow_multiline=allow_multiline)

    writer.format_string = watching
    try:
        text = "".join(_table_of("events", record))
    finally:
        writer.format_string = real
    if not any("\r" in answer for answer in answers.values()):  # (a CR: tomli_w writes it)
        assert max(seen) < 1000  # tomli_w wrote the short values only
    assert TimelineEvent.from_record(tomllib.loads(text)["events"][0]) == event
