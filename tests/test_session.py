"""Sessions: TOML round trip, atomic saves, one-line errors, Markdown export, speed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import tomli_w

from tui.core.conversation import Conversation
from tui.core.profile import HandoffConf, ModelDef, Profile
from tui.core.profile_io import load_profile
from tui.core.session import SessionError, export_markdown, load_session, save_session
from tui.core.types import Message, ToolCall

PROFILES = Path(__file__).resolve().parent.parent / "profiles"


def profile() -> Profile:
    return Profile(
        name="team",
        default_model="researcher",
        models={"researcher": ModelDef(model="openai/gpt-4.1", input_price=2.0), "writer": ModelDef(model="claude-sonnet-4-5")},
        handoff=HandoffConf(targets=["writer"]),
    )


def conversation() -> Conversation:
    call = ToolCall(
        id="call_1",
        name="search__web",
        arguments={"query": "latest AI", "limit": 3, "filters": {"lang": "en", "safe": True, "score": 0.5}, "tags": ["a", "b"]},
    )
    return Conversation(
        title="Research then write",
        active_model="writer",
        messages=[
            Message("user", "Research the latest AI developments,\nthen hand off to the writer."),
            Message("assistant", "", model="researcher", tool_calls=(call, ToolCall(id="call_2", name="noargs"))),
            Message("tool", "result: 3 papers", tool_call_id="call_1", tool_name="search__web"),
            Message("tool", "boom", tool_call_id="call_2", tool_name="noargs", is_error=True),
            Message("assistant", "Here is what I found:\n\n```python\nprint('x')\n```", model="researcher"),
            Message("assistant", "The summary was cut sh", model="writer", partial=True),
            Message("user", 'quotes " and \\ backslashes and """ triple and \r\n windows lines'),
        ],
        events=[
            {
                "type": "turn", "model": "researcher", "text": "Here", "usage": {"input_tokens": 10, "output_tokens": 5},
                "cost_usd": None, "latency_s": 1.25, "finish_reason": "stop", "partial": False, "lane": None,
                "purpose": "answer", "time": 1700000000.5,
            },
            {
                "type": "handoff", "from": "researcher", "to": "writer", "reason": "tool", "instructions": "write it",
                "package": {"original_task": "Research", "context": [{"role": "user", "content": "x"}],
                            "handoff_metadata": {"expected_output_format": None, "validation_criteria": ["nonempty"]}},
                "time": 1700000001.0,
            },
            {"type": "consensus", "models": ("a", "b"), "judge": "j", "ranking": ["b", "a"], "winner": "b", "labels": {}},
        ],
    )


def without_none(value):
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [without_none(v) for v in value if v is not None]
    return value


def test_session_round_trip(tmp_path: Path):
    path = tmp_path / "s.toml"
    conv = conversation()
    save_session(path, profile(), conv)
    loaded_profile, loaded = load_session(path)

    assert loaded_profile == profile()
    assert loaded.messages == conv.messages
    assert loaded.title == conv.title and loaded.active_model == conv.active_model
    # TOML has no null: None values are left out at every depth, everything else stays.
    records = [e.to_record() for e in loaded.events]
    assert without_none(records) == without_none([e.to_record() for e in conv.events])
    assert records[0]["latency_s"] == 1.25 and records[0]["usage"]["input_tokens"] == 10
    assert records[0]["cost_usd"] is None


def test_session_file_has_the_documented_shape(tmp_path: Path):
    path = tmp_path / "s.toml"
    save_session(path, profile(), conversation())
    text = path.read_text()
    assert text.startswith("version = 2\n")
    assert "[profile]" in text or "[profile." in text
    assert "[[messages]]" in text and "[[events]]" in text
    assert "null" not in text and "None" not in text


def test_an_empty_session_round_trips(tmp_path: Path):
    save_session(tmp_path / "s.toml", Profile(), Conversation())
    assert load_session(tmp_path / "s.toml") == (Profile(), Conversation())


def test_a_session_carries_an_example_profile(tmp_path: Path):
    example = load_profile(PROFILES / "pipeline.toml")
    save_session(tmp_path / "s.toml", example, conversation())
    assert load_session(tmp_path / "s.toml")[0] == example


# ------------------------------------------------------------------- atomicity


def test_failed_rename_leaves_the_old_session_whole(tmp_path: Path, monkeypatch):
    path = tmp_path / "s.toml"
    save_session(path, profile(), conversation())
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    longer = conversation()
    longer.messages.append(Message("user", "one more"))
    with pytest.raises(OSError):
        save_session(path, profile(), longer)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


def test_failed_serialisation_leaves_the_old_session_whole(tmp_path: Path, monkeypatch):
    path = tmp_path / "s.toml"
    save_session(path, profile(), conversation())
    before = path.read_bytes()

    def broken_dumps(*args, **kwargs):
        raise RuntimeError("writer crashed")

    monkeypatch.setattr(tomli_w, "dumps", broken_dumps)
    with pytest.raises(RuntimeError):
        save_session(path, profile(), Conversation())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


def test_failed_write_midway_leaves_the_old_session_whole(tmp_path: Path, monkeypatch):
    path = tmp_path / "s.toml"
    save_session(path, profile(), conversation())
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save_session(path, profile(), Conversation())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]


# ---------------------------------------------------------------------- errors


def session_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SessionError) as info:
        load_session(path)
    message = str(info.value)
    assert "\n" not in message
    return message.removeprefix(str(path))


def test_session_syntax_error_has_line_and_column(tmp_path: Path):
    assert session_error(tmp_path, 'version = 1\ntitle = "x\n') == ":2:11: invalid TOML: Illegal character '\\n'"


def skipped(tmp_path: Path, text: str) -> list[str]:
    """A session whose messages do not all fit opens with the rest, naming what it left out."""
    path = tmp_path / "s.toml"
    path.write_text(text)
    _, conversation = load_session(path)
    assert path.read_text() == text  # reading never rewrites
    return [line.removeprefix(str(path)) for line in conversation.skipped]


def test_session_bad_message_is_placed_and_skipped(tmp_path: Path):
    text = 'version = 1\n\n[[messages]]\nrole = "user"\ncontent = "hi"\n\n[[messages]]\nrole = "robot"\ncontent = "x"\n'
    assert skipped(tmp_path, text) == [
        ':8:1: messages[1].role: expected one of "user", "assistant", "tool", got "robot"'
    ]
    text = 'version = 1\n[[messages]]\nrole = "user"\n'
    assert skipped(tmp_path, text) == [':2:1: messages[0]: missing required key "content"']
    text = 'version = 1\n[[messages]]\nrole = "user"\ncontent = "x"\nmood = "happy"\n'
    assert skipped(tmp_path, text) == [":5:1: messages[0].mood: unknown key"]


def test_session_bad_profile_is_placed_under_profile(tmp_path: Path):
    text = 'version = 1\n[profile]\nname = "p"\n[profile.models.w]\nmodel = "nowhere"\n'
    assert session_error(tmp_path, text).startswith(":5:1: profile.models.w.model: unknown model 'nowhere'")


def test_session_other_errors(tmp_path: Path):
    assert session_error(tmp_path, 'title = "x"\n') == ': missing required key "version"'
    assert session_error(tmp_path, "version = 3\n") == (
        ":1:1: version: this Baton reads session versions 1 and 2, not 3")
    with pytest.raises(SessionError) as info:
        load_session(tmp_path / "missing.toml")
    assert str(info.value) == f"{tmp_path / 'missing.toml'}: no such file"


# --------------------------------------------------------------------- export


def test_export_markdown_has_every_message():
    conv = conversation()
    md = export_markdown(conv)
    assert md.startswith("# Research then write\n")
    for m in conv.messages:
        assert m.content in md
    assert "## You" in md and "## researcher" in md and "## writer" in md
    assert "**Tool call** `search__web` (id `call_1`)" in md
    assert '"query": "latest AI"' in md
    assert "## Tool result: noargs (error)" in md
    assert "partial answer" in md
    # One mark per partial message, not more.
    assert md.count("partial answer") == sum(m.partial for m in conv.messages)


def test_export_markdown_fences_tool_output_that_contains_fences():
    conv = Conversation(messages=[Message("tool", "```\ninside\n```", tool_name="t")])
    md = export_markdown(conv)
    assert "````text\n```\ninside\n```\n````" in md


# ----------------------------------------------------------------------- speed


def test_two_thousand_message_session_timing(tmp_path: Path):
    """Measures, does not judge: prints the save and load times of a long session."""
    text = "A paragraph of an answer with `code`, a [link](https://example.com) and some words.\n" * 6
    messages, events = [], []
    for i in range(2000):
        if i % 2 == 0:
            messages.append(Message("user", f"Question {i}: {text[:80]}"))
        else:
            calls = (ToolCall(id=f"c{i}", name="search", arguments={"q": str(i), "n": i}),) if i % 10 == 1 else ()
            messages.append(Message("assistant", text + str(i), model="writer", tool_calls=calls))
            events.append({"type": "turn", "model": "writer", "text": text, "usage": {"input_tokens": i, "output_tokens": 50},
                           "latency_s": 1.5, "cost_usd": None, "time": 1.7e9 + i})
    conv = Conversation(messages=messages, events=events, active_model="writer", title="long")
    path = tmp_path / "long.toml"

    start = time.perf_counter()
    save_session(path, profile(), conv)
    saved = time.perf_counter()
    _, loaded = load_session(path)
    done = time.perf_counter()

    assert loaded.messages == conv.messages
    size_kb = path.stat().st_size / 1024
    print(f"\n2,000 messages ({size_kb:.0f} KiB): save {saved - start:.3f} s, load {done - saved:.3f} s")


# -- the autosave's writer: a table at a time ---------------------------------------------


def test_the_writer_keeps_each_table_and_writes_what_a_whole_dump_would_read_as(monkeypatch, tmp_path):
    """The autosave writes the same session after every change: each message and event is
    made into TOML once. Short messages (which a whole dump would make inline), CRLF
    texts and a text holding the tables' own marker all read back the same."""
    import tomllib

    from tui.core import session as session_module
    from tui.core.events import MessageAdded, NoticeEvent
    from tui.core.files.tomlfile import dump_toml
    from tui.core.profile_io import profile_to_dict
    from tui.core.session import SessionWriter, session_to_dict
    from tui.core.types import new_id

    made: list[str] = []
    real = session_module.message_to_dict

    def counted(m: Message) -> dict:
        made.append(m.content)
        return real(m)

    monkeypatch.setattr(session_module, "message_to_dict", counted)
    conv = conversation()
    data = profile_to_dict(profile())
    writer = SessionWriter()
    texts = ["ok", "line one\r\nline two", "a\n[[messages]]\nb", "x\n[[events]]\n", "last"]
    for i, text in enumerate(texts):
        made.clear()
        conv.apply(MessageAdded(Message("user" if i % 2 else "assistant", text, id=new_id(), parent=conv.leaf)))
        conv.apply(NoticeEvent(f"notice {i}"))
        written = writer.text(data, conv.snapshot())
        if i:  # after the first save, only the new message is made
            assert made == [text]
        assert tomllib.loads(written) == tomllib.loads(dump_toml(session_to_dict(data, conv)))
    writer.write(tmp_path / "s.toml", data, conv)
    _, loaded = load_session(tmp_path / "s.toml")
    assert [m.content for m in loaded] == [m.content for m in conv]
    assert loaded.leaf == conv.leaf and len(loaded.events) == len(conv.events)
    fresh = SessionWriter()  # a first save of texts that hold the markers: nothing kept, all still right
    fresh.text(data, conv)
    conv.apply(MessageAdded(Message("user", "after", id=new_id(), parent=conv.leaf)))
    assert tomllib.loads(fresh.text(data, conv)) == tomllib.loads(dump_toml(session_to_dict(data, conv)))


def test_a_session_just_opened_is_saved_again_from_its_own_file(monkeypatch, tmp_path):
    """The first autosave of a long session just opened takes the tables it already has
    from the file it was read from; a file that does not match is not used."""
    import tomllib

    from tui.core import session as session_module
    from tui.core.events import MessageAdded
    from tui.core.files.tomlfile import dump_toml
    from tui.core.profile_io import profile_to_dict
    from tui.core.session import SessionWriter, session_to_dict
    from tui.core.types import new_id

    path = tmp_path / "s.toml"
    save_session(path, profile(), conversation())
    _, conv = load_session(path)
    made: list[str] = []
    real = session_module.message_to_dict
    monkeypatch.setattr(session_module, "message_to_dict", lambda m: made.append(m.content) or real(m))
    writer = SessionWriter()
    writer.opened(path, conv)
    conv.apply(MessageAdded(Message("user", "one more", id=new_id(), parent=conv.leaf)))
    data = profile_to_dict(profile())
    text = writer.text(data, conv.snapshot())
    assert made == ["one more"]
    assert tomllib.loads(text) == tomllib.loads(dump_toml(session_to_dict(data, conv)))

    other = SessionWriter()  # the file holds another session's messages: made afresh
    _, elsewhere = load_session(path)
    save_session(path, profile(), conversation())  # new ids
    other.opened(path, elsewhere)
    made.clear()
    assert tomllib.loads(other.text(data, elsewhere)) == tomllib.loads(dump_toml(session_to_dict(data, elsewhere)))
    assert len(made) >= len(elsewhere)
