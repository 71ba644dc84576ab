"""Nothing lost: /save that fails, /clear, odd session files, two apps on one file,
an answer that comes back empty."""

from __future__ import annotations

import stat
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for
from test_cli import baton, write_profile

from tui.core.controller import SessionLock
from tui.core.session import load_session
from tui.ui.app import BatonApp
from tui.ui.launch import open_args


async def test_a_failed_save_keeps_saving_where_it_did_and_a_good_one_says_where(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="first"), Reply(text="second"), Reply(text="third"))
    app = make_app(fake_llm, tmp_path)
    home = tmp_path / "session.toml"
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a folder should be")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "one")
        await idle(pilot, app)
        await type_and_send(pilot, f"/save {blocked}/s.toml")
        await wait_for(pilot, lambda: "not saved to" in screen_text(app))
        assert app.session_path == home
        await type_and_send(pilot, "two")
        await idle(pilot, app)
        assert [m.content for m in load_session(home)[1].messages][-1] == "second"  # autosave went on
        elsewhere = tmp_path / "kept" / "moved.toml"
        await type_and_send(pilot, f"/save {elsewhere}")
        await wait_for(pilot, lambda: app.session_path == elsewhere)
        await type_and_send(pilot, "three")
        await idle(pilot, app)
    assert [m.content for m in load_session(elsewhere)[1].messages][-1] == "third"
    assert [m.content for m in load_session(home)[1].messages][-1] == "second"
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600


async def test_clear_starts_a_new_file_and_leaves_the_old_one_whole(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="kept answer"), Reply(text="fresh answer"))
    app = make_app(fake_llm, tmp_path)
    old = tmp_path / "session.toml"
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "before the clear")
        await idle(pilot, app)
        before = old.read_text()
        await type_and_send(pilot, "/clear")
        await wait_for(pilot, lambda: app.session_path != old)
        await type_and_send(pilot, "after the clear")
        await idle(pilot, app)
        new = app.session_path
    assert old.read_text() == before
    assert [m.content for m in load_session(new)[1].messages] == ["after the clear", "fresh answer"]


ODD = """version = 2
title = "odd"
[[messages]]
id = "m1"
role = "user"
content = "a fine question"
[[messages]]
id = "m2"
parent = "m1"
role = "assistant"
content = 42
[[events]]
type = "turn"
model = "alpha"
text = "x"
latency_s = nan
[[events]]
type = "turn"
model = "alpha"
text = "a fine record"
"""


async def test_an_odd_session_opens_with_the_bad_parts_named_and_the_file_untouched(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    path = tmp_path / "odd.toml"
    path.write_text(ODD)
    args = open_args(None, str(path), {})
    assert args["session_path"] != path  # saving would drop what could not be read
    app = BatonApp(**args)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: "skipped what did not fit" in screen_text(app))
        text = screen_text(app)
        assert "a fine question" in text and "messages[1].content" in text
    assert path.read_text() == ODD
    assert [e.to_record()["text"] for e in args["conversation"].events] == ["a fine record"]


def test_a_session_whose_top_level_does_not_fit_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "odd.toml"
    path.write_text('version = "two"\n')
    r = baton("--session", str(path), tmp=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "version" in r.stderr
    assert "Traceback" not in r.stderr and path.read_text() == 'version = "two"\n'


def test_a_second_app_on_the_same_session_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "shared.toml"
    lock = SessionLock(path)
    assert lock.acquire()
    try:
        r = baton("--session", str(path), tmp=tmp_path)
    finally:
        lock.release()
    assert r.returncode == 2 and "open in another Baton" in r.stderr and r.stderr.count("\n") == 1


def test_an_empty_answer_from_every_model_is_a_failure(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text=""))
    fake_llm.script("gamma", Reply(text=""))
    profile = write_profile(tmp_path, fake_llm, '\n[fallbacks]\nalpha = ["gamma"]\n')
    r = baton("ask", "--profile", str(profile), "hi", tmp=tmp_path)
    assert r.returncode == 1 and "empty output" in r.stderr and r.stdout == ""


async def test_a_message_sent_while_an_answer_streams_waits_and_is_answered_after(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="long " * 200, chunk_delay=0.01), Reply(text="second answer"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "first")
        await wait_for(pilot, lambda: "long long" in screen_text(app))
        await type_and_send(pilot, "second")
        await wait_for(pilot, lambda: "queued: second" in screen_text(app))
        await wait_for(pilot, lambda: "second answer" in screen_text(app), timeout=20)
        await idle(pilot, app)
    contents = [(m.content, m.partial) for m in app.conversation.messages]
    assert contents == [("first", False), ("long " * 200, False), ("second", False), ("second answer", False)]


def test_a_table_where_a_list_belongs_is_skipped_or_refused_in_one_line(tmp_path: Path) -> None:
    import pytest

    from tui.core.session import SessionError, load_session

    one = tmp_path / "one.toml"  # one message's media is a table: that message is skipped and named
    one.write_text('version = 2\n[[messages]]\nid = "m1"\nrole = "user"\ncontent = "kept"\n'
                   '[[messages]]\nid = "m2"\nparent = "m1"\nrole = "assistant"\ncontent = "odd"\n'
                   '[messages.media]\nkind = "image"\n')
    _, conversation = load_session(one)
    assert [m.content for m in conversation] == ["kept"]
    assert any("messages[1].media" in line and "expected an array" in line for line in conversation.skipped)
    top = tmp_path / "top.toml"  # the messages themselves are a table: the file is refused in one line
    top.write_text('version = 2\n[messages]\nid = "m1"\n')
    with pytest.raises(SessionError) as refused:
        load_session(top)
    assert "messages" in str(refused.value) and "\n" not in str(refused.value)


async def test_the_session_lock_follows_the_file_the_app_writes(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """The lock another Baton would meet moves with /save PATH and /clear; a file another
    Baton has open is neither loaded nor saved over, and nothing changes."""
    from test_app_helpers import fake_profile

    from tui.core.conversation import Conversation
    from tui.core.session import save_session
    from tui.core.types import Message

    def free(path: Path) -> bool:
        probe = SessionLock(path)
        if probe.acquire():
            probe.release()
            return True
        return False

    busy = tmp_path / "busy.toml"
    save_session(busy, fake_profile(fake_llm.openai_base), Conversation([Message("user", "theirs")]))
    other = SessionLock(busy)  # another Baton has it open
    assert other.acquire()
    fake_llm.script("alpha", Reply(text="mine"))
    app = make_app(fake_llm, tmp_path)
    first = app.session_path
    assert first is not None
    app.session_lock = SessionLock(first)
    assert app.session_lock.acquire()
    moved = tmp_path / "moved.toml"
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await type_and_send(pilot, "a question")
            await idle(pilot, app)
            await type_and_send(pilot, f"/save {moved}")
            await wait_for(pilot, lambda: app.session_path == moved)
            assert free(first) and not free(moved)
            await type_and_send(pilot, f"/load {busy}")
            await wait_for(pilot, lambda: "open in another Baton" in screen_text(app))
            assert app.session_path == moved and "theirs" not in screen_text(app)
            await type_and_send(pilot, f"/save {busy}")
            await wait_for(pilot, lambda: "not saved to" in screen_text(app))
            await type_and_send(pilot, "/clear")
            await wait_for(pilot, lambda: app.session_path != moved)
            assert free(moved) and app.session_path is not None and not free(app.session_path)
    finally:
        other.release()
        app.session_lock.release()
    _, theirs = load_session(busy)
    assert [m.content for m in theirs] == ["theirs"]  # never written by this app


def test_new_session_files_in_the_same_second_are_different_files(tmp_path: Path) -> None:
    from tui.core.controller import default_session_path

    env = {"BATON_DATA_DIR": str(tmp_path)}
    paths = {default_session_path(env) for _ in range(3)}
    assert len(paths) == 3 and all(p.parent == tmp_path / "sessions" for p in paths)
