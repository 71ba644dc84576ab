"""Steering from the app (Pilot): regenerate, edit and branch, pick, the branch picker,
sessions, and reviewing a handoff package; each checked by what the next request sends."""

from __future__ import annotations

import json
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for

from tui.core.session import load_session
from tui.ui.pickers import PickerScreen
from tui.ui.screens import HandoffScreen


def sent(llm: FakeLLM, model: str) -> str:
    return json.dumps(llm.requests_for(model)[-1].body["messages"])


async def test_regen_with_another_model_keeps_both_and_goes_on_from_the_one_shown(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="alpha first"), Reply(text="alpha later"))
    fake_llm.script("beta", Reply(text="beta instead"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "a question")
        await idle(pilot, app)
        await type_and_send(pilot, "/regen beta")
        await wait_for(pilot, lambda: "beta instead" in screen_text(app))
        await idle(pilot, app)
        await pilot.press("alt+left")  # step back to alpha's answer ...
        await wait_for(pilot, lambda: "answer 1/2" in screen_text(app))
        assert "alpha first" in screen_text(app) and "beta instead" not in screen_text(app)
        await pilot.press("alt+right")  # ... and forward to beta's, which the conversation goes on from
        await wait_for(pilot, lambda: "beta instead" in screen_text(app))
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
    body = sent(fake_llm, "alpha")
    assert "beta instead" in body and "alpha first" not in body
    _, saved = load_session(tmp_path / "session.toml")
    question = saved.path()[0]
    assert [m.content for m in saved.siblings(saved.path()[1].id)] == ["alpha first", "beta instead"]
    assert question.content == "a question"


async def test_edit_then_send_branches_and_the_old_branch_stays(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="answer one"), Reply(text="answer two"), Reply(text="answer edited"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "first question")
        await idle(pilot, app)
        await type_and_send(pilot, "second question")
        await idle(pilot, app)
        await type_and_send(pilot, "/edit")
        await wait_for(pilot, lambda: app.query_one("#composer").text == "second question")  # type: ignore[attr-defined]
        composer = app.query_one("#composer")
        composer.insert(", sharper")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await idle(pilot, app)
        text = screen_text(app)
        assert "second question, sharper" in text and "answer edited" in text and "answer two" not in text
        await type_and_send(pilot, "/tree")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert "answer two" in screen_text(app) and "answer edited" in screen_text(app)
        await pilot.press("escape")
    body = sent(fake_llm, "alpha")
    assert "second question, sharper" in body and "answer two" not in body and "answer one" in body
    _, saved = load_session(tmp_path / "session.toml")
    assert len(saved.leaves()) == 2


async def test_pick_after_a_round_goes_on_with_that_answer_alone(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="alpha says tabs"), Reply(text="noted"))
    fake_llm.script("beta", Reply(text="beta says spaces"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/parallel alpha beta -- tabs or spaces?")
        await wait_for(pilot, lambda: "beta says spaces" in screen_text(app))
        await idle(pilot, app)
        await type_and_send(pilot, "/pick 2")
        await wait_for(pilot, lambda: "going on with answer 2 (beta)" in screen_text(app))
        timeline = app.query_one("#timeline")
        assert any(r.get("type") == "vote" for r in timeline._records)  # type: ignore[attr-defined]
        await type_and_send(pilot, "why?")
        await idle(pilot, app)
    body = sent(fake_llm, "alpha")
    assert "beta says spaces" in body and "alpha says tabs" not in body


async def test_sessions_picker_opens_a_saved_session(fake_llm: FakeLLM, tmp_path: Path) -> None:
    from tui.core.sessions import sessions_dir

    fake_llm.script("alpha", Reply(text="from the old session"))
    old = make_app(fake_llm, tmp_path)
    old.session_path = sessions_dir(old.env) / "old.toml"
    async with old.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "remember the octopus")
        await idle(pilot, old)
    app = make_app(fake_llm, tmp_path / "other")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/sessions")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert "remember the octopus" in screen_text(app)
        await pilot.press(*"octo", "enter")
        await wait_for(pilot, lambda: "from the old session" in screen_text(app))


async def test_handoff_edit_sends_the_package_as_the_person_left_it(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="researched"))
    fake_llm.script("beta", Reply(text="written"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 45), notifications=True) as pilot:
        await type_and_send(pilot, "research octopuses")
        await idle(pilot, app)
        await type_and_send(pilot, "/handoff beta --edit write it up")
        await wait_for(pilot, lambda: isinstance(app.screen, HandoffScreen))
        instructions = app.screen.query_one("#instructions")
        instructions.value = "write it up as a haiku"  # type: ignore[attr-defined]
        await pilot.click("#send")
        await wait_for(pilot, lambda: "written" in screen_text(app))
        await idle(pilot, app)
    handoff = next(e.to_record() for e in app.conversation.events if e.type == "handoff")
    assert handoff["instructions"] == "write it up as a haiku"
    assert handoff["package"]["original_task"] == "research octopuses"
    assert "write it up as a haiku" in sent(fake_llm, "beta")


async def test_compare_hides_every_name_until_the_vote_then_stats_count_it(fake_llm: FakeLLM, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tui.core.votes import votes_path

    fake_llm.script("beta", Reply(text="an answer in one style"))
    fake_llm.script("gamma", Reply(text="an answer in another style"))
    fake_llm.script("alpha", Reply(text="continuing"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await type_and_send(pilot, "/compare beta gamma -- say something")
        await wait_for(pilot, lambda: "/vote A" in screen_text(app))
        await idle(pilot, app)
        text = screen_text(app)
        assert "an answer in one style" in text and "an answer in another style" in text
        assert "beta" not in text and "gamma" not in text  # chat, timeline, panel, toasts: no names
        await type_and_send(pilot, "/vote " + ("A" if text.index("one style") < text.index("another style")
                                               else "B"))
        await wait_for(pilot, lambda: "beta over gamma" in screen_text(app))
        assert "beta" in screen_text(app) and "gamma" in screen_text(app)
        await type_and_send(pilot, "go on")
        await idle(pilot, app)
    body = sent(fake_llm, "alpha")
    assert "an answer in one style" in body and "another style" not in body  # went on from the winner
    assert votes_path(app.env).exists()
    env = {**os.environ, "HOME": os.environ["HOME"]}
    env.pop("BATON_DATA_DIR", None)  # the app above wrote under HOME (its env was empty)
    out = subprocess.run([sys.executable, "-m", "tui", "stats"], capture_output=True, text=True, env=env, check=True)
    lines = out.stdout.splitlines()
    beta = next(line for line in lines if line.startswith("beta"))
    gamma = next(line for line in lines if line.startswith("gamma"))
    assert beta.split()[1:4] == ["1", "1", "0"] and gamma.split()[1:4] == ["1", "0", "1"]
    assert lines.index(beta) < lines.index(gamma)


async def test_up_on_the_first_line_brings_back_earlier_prompts(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="one"), Reply(text="two"))
    first = make_app(fake_llm, tmp_path)
    async with first.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "from an older session")
        await idle(pilot, first)
    app = make_app(fake_llm, tmp_path / "b")
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "this session's prompt")
        await idle(pilot, app)
        composer = app.query_one("#composer")
        composer.focus()
        await pilot.press("up")
        assert composer.text == "this session's prompt"  # type: ignore[attr-defined]
        await pilot.press("up")
        assert composer.text == "from an older session"  # type: ignore[attr-defined]
        await pilot.press("down", "down")
        assert composer.text == ""  # type: ignore[attr-defined]


def test_baton_sessions_lists_newest_first_and_continue_opens_the_latest(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from tui.core.conversation import Conversation
    from tui.core.profile import Profile
    from tui.core.session import save_session
    from tui.core.sessions import latest_session
    from tui.core.types import Message

    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path / "data")}
    folder = tmp_path / "data" / "sessions"
    save_session(folder / "old.toml", Profile(), Conversation([Message("user", "the older question")]))
    time.sleep(0.05)
    newer = Conversation([Message("user", "the \x1b[2J newer question")])
    newer.title = ""
    save_session(folder / "new.toml", Profile(), newer)
    out = subprocess.run([sys.executable, "-m", "tui", "sessions"], capture_output=True, text=True, env=env,
                         check=True)
    lines = out.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(folder / "new.toml"), str(folder / "old.toml")]
    assert lines[1].endswith("the older question") and "\x1b" not in out.stdout
    assert latest_session({"BATON_DATA_DIR": str(tmp_path / "data")}) == folder / "new.toml"


async def test_export_writes_a_private_markdown_file(fake_llm: FakeLLM, tmp_path: Path) -> None:
    import stat

    fake_llm.script("alpha", Reply(text="an answer worth keeping"))
    target = tmp_path / "out" / "deeper" / "chat.md"
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "a question")
        await idle(pilot, app)
        await type_and_send(pilot, f"/export {target}")
        await wait_for(pilot, lambda: target.exists())
    assert "an answer worth keeping" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == stat.S_IMODE(target.parent.parent.stat().st_mode) == 0o700
