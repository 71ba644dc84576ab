"""The one stream: runs as objects, the conversation tree, and the bugs the old paths had."""

from __future__ import annotations

import json
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import SIZE, make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for

from tui.core.engine import Engine, drain
from tui.core.events import MessageAdded, RunCancelled, RunFinished, TextDelta, TurnStarted
from tui.core.history import wire_messages
from tui.core.profile import ModelDef, Profile, ProviderDef
from tui.core.session import load_session, save_session
from tui.core.types import Message, ToolCall
from tui.ui.app import BatonApp

ENV = {"FO_KEY": "sk-openai-secret-1234"}


def profile(llm: FakeLLM) -> Profile:
    return Profile(
        name="t", default_model="alpha",
        providers={"fo": ProviderDef(kind="openai", base_url=llm.openai_base, api_key_env="FO_KEY")},
        models={m: ModelDef(f"fo/{m}") for m in ("alpha", "beta", "gamma")},
    )


# ------------------------------------------------------------------- the engine


async def test_every_change_reaches_the_conversation_through_the_stream(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="hello"))
    seen: list[object] = []
    e = Engine(profile(fake_llm), env=ENV, sinks=[seen.append])
    events = await drain(e.send("hi"))
    assert events == seen  # the sinks saw exactly what the reader saw, in order
    added = [ev.message for ev in events if isinstance(ev, MessageAdded)]
    assert list(e.conversation) == added  # no message arrived any other way
    assert added[1].parent == added[0].id and e.conversation.leaf == added[1].id
    assert isinstance(events[-1], RunFinished)


async def test_cancel_returns_after_the_partial_is_kept_and_nothing_follows(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="word " * 300, chunk_delay=0.02))
    seen: list[object] = []
    e = Engine(profile(fake_llm), env=ENV, sinks=[seen.append])
    run = e.send("go")
    async for ev in run:
        if isinstance(ev, TextDelta):
            break
    await run.cancel()
    # By the time cancel() returns, the sinks have the partial and the cancel record.
    assert isinstance(seen[-1], RunCancelled)
    partial = seen[-1].partials[0]
    assert partial.partial and e.conversation.nodes[partial.id] == partial and e.conversation.leaf == partial.id
    rest = [ev async for ev in run]
    assert rest[-1] == seen[-1] and not any(isinstance(ev, TurnStarted) for ev in rest)


def test_two_turns_reusing_a_tool_call_id_keep_their_results_as_tool_results() -> None:
    """A handoff turn by another model flattens its call; a later turn of ours that reuses
    the id must still send its result as a tool result, not as user text."""
    branch = [
        Message("user", "go"),
        Message("assistant", "", "beta", (ToolCall("call_0", "files__read", {}),)),
        Message("tool", "other model's result", tool_call_id="call_0", tool_name="files__read"),
        Message("assistant", "", "alpha", (ToolCall("call_0", "files__read", {}),)),
        Message("tool", "my result", tool_call_id="call_0", tool_name="files__read"),
    ]
    wire = wire_messages(branch, "alpha", {"files__read"})
    assert wire[2].role == "user" and "other model's result" in wire[2].content
    assert wire[-1].role == "tool" and wire[-1].content == "my result" and wire[-1].tool_call_id == "call_0"


# ------------------------------------------------------------------ the tree


def test_version_1_sessions_load_as_one_branch_and_save_as_version_2(tmp_path: Path) -> None:
    v1 = tmp_path / "old.toml"
    v1.write_text(
        'version = 1\ntitle = "old"\nactive_model = "alpha"\n'
        '[[messages]]\nrole = "user"\ncontent = "q1"\n'
        '[[messages]]\nrole = "assistant"\ncontent = "cut"\nmodel = "alpha"\nlane = "alpha"\npartial = true\n'
        '[[messages]]\nrole = "user"\ncontent = "q2"\n'
        '[[messages]]\nrole = "assistant"\ncontent = "a2"\nmodel = "alpha"\nlane = "alpha"\n'
        '[[messages]]\nrole = "assistant"\ncontent = "b2"\nmodel = "beta"\nlane = "beta"\n'
        '[[messages]]\nrole = "assistant"\ncontent = "a2"\nmodel = "alpha"\n'
        '[[events]]\ntype = "handoff"\nfrom = "alpha"\nto = "beta"\nreason = "user"\ninstructions = ""\nat = 1\n'
        '[[events]]\ntype = "parallel"\nmodels = ["alpha", "beta"]\nanswers = { alpha = "a2", beta = "b2" }\n'
    )
    _, conv = load_session(v1)
    assert [m.content for m in conv.messages] == ["q1", "cut", "q2", "a2", "b2", "a2"]
    q1, q2 = conv.path()[0], conv.path()[1]
    assert [e.to_record()["at"] for e in conv.events] == [q1.id, q2.id]
    save_session(tmp_path / "new.toml", load_session(v1)[0], conv)
    text = (tmp_path / "new.toml").read_text()
    assert text.startswith("version = 2\n")
    assert load_session(tmp_path / "new.toml")[1] == conv


async def test_a_tree_with_a_cancelled_round_and_partials_round_trips(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="slow " * 200, chunk_delay=0.02), Reply(text="A"))
    fake_llm.script("beta", Reply(text="never " * 200, chunk_delay=0.02), Reply(text="B"))
    e = Engine(profile(fake_llm), env=ENV)
    run = e.parallel("first?", ["alpha", "beta"])
    async for ev in run:
        if isinstance(ev, TextDelta):
            break
    await run.cancel()
    await drain(e.parallel("second?", ["alpha", "beta"]))
    save_session(tmp_path / "s.toml", e.profile, e.conversation)
    _, loaded = load_session(tmp_path / "s.toml")
    assert loaded == e.conversation
    rounds = [ev.to_record() for ev in loaded.events if ev.type == "parallel"]
    assert len(rounds) == 1 and loaded.nodes[rounds[0]["at"]].content == "second?"


# ---------------------------------------------------------------------- the app


async def test_clear_during_a_stream_keeps_the_partial_in_the_old_file_only(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="streaming " * 400, chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    old = tmp_path / "session.toml"
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "tell me a long story")
        await wait_for(pilot, lambda: "streaming streaming" in screen_text(app))
        await type_and_send(pilot, "/clear")
        await wait_for(pilot, lambda: app.session_path != old)
        await pilot.pause(0.3)  # anything still in flight would land now
        assert list(app.conversation) == [] and "streaming" not in screen_text(app)
        await type_and_send(pilot, "a new question")
        await idle(pilot, app)
        new = app.session_path
    _, kept = load_session(old)
    assert [m.content for m in kept.messages][0] == "tell me a long story"
    assert kept.messages[-1].partial and kept.messages[-1].content.startswith("streaming")
    assert kept.events[-1].to_record()["finish_reason"] == "cancelled"
    _, fresh = load_session(new)
    assert "streaming" not in json.dumps([m.content for m in fresh.messages])
    assert [m.content for m in fresh.messages][0] == "a new question"


async def test_load_during_a_stream_opens_the_other_session_with_nothing_of_the_cancelled_turn(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from test_app_helpers import fake_profile

    from tui.core.conversation import Conversation

    other = tmp_path / "other.toml"
    save_session(other, fake_profile(fake_llm.openai_base),
                 Conversation([Message("user", "an older question"), Message("assistant", "an older answer", "beta")]))
    fake_llm.script("alpha", Reply(text="streaming " * 400, chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    old = tmp_path / "session.toml"
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "tell me a long story")
        await wait_for(pilot, lambda: "streaming streaming" in screen_text(app))
        await type_and_send(pilot, f"/load {other}")
        await wait_for(pilot, lambda: "an older answer" in screen_text(app))
        await pilot.pause(0.3)  # anything still in flight would land now
        assert "streaming" not in screen_text(app)
        assert [m.content for m in app.conversation.messages] == ["an older question", "an older answer"]
    _, kept = load_session(old)
    assert kept.messages[-1].partial and kept.messages[-1].content.startswith("streaming")
    assert kept.events[-1].to_record()["finish_reason"] == "cancelled"
    _, reopened = load_session(other)
    assert "streaming" not in json.dumps([m.content for m in reopened.messages])


async def test_quitting_during_a_stream_saves_the_partial_marked_cancelled(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="streaming " * 400, chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "tell me a long story")
        await wait_for(pilot, lambda: "streaming streaming" in screen_text(app))
        await app.action_quit()
    _, kept = load_session(tmp_path / "session.toml")
    assert [m.content for m in kept.messages][0] == "tell me a long story"
    assert kept.messages[-1].partial and kept.messages[-1].content.startswith("streaming")
    assert kept.events[-1].to_record()["finish_reason"] == "cancelled"


async def test_a_cancelled_round_then_a_finished_one_reopen_to_the_same_screen(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(text="alpha slow " * 300, chunk_delay=0.01), Reply(text="alpha two"))
    fake_llm.script("beta", Reply(text="beta slow " * 300, chunk_delay=0.01), Reply(text="beta two"))
    fake_llm.script("gamma", Reply(text="gamma sums it up"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "/parallel alpha beta -- round one")
        await wait_for(pilot, lambda: "alpha slow alpha slow" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in screen_text(app))
        await type_and_send(pilot, "/parallel alpha beta --synth gamma -- round two")
        await wait_for(pilot, lambda: "gamma sums it up" in screen_text(app))
        await idle(pilot, app)
        before_end = screen_text(app)
        app.query_one("#chat").scroll_home(animate=False)
        await wait_for(pilot, lambda: app.query_one("#chat").scroll_y == 0)
        await pilot.pause(0.3)
        before = screen_text(app)
    profile_, conversation = load_session(tmp_path / "session.toml")
    fresh = BatonApp(profile_, conversation, env={}, session_path=tmp_path / "session.toml")
    async with fresh.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "gamma sums it up" in screen_text(fresh))
        await pilot.pause(0.3)
        after_end = screen_text(fresh)
        fresh.query_one("#chat").scroll_home(animate=False)
        await wait_for(pilot, lambda: fresh.query_one("#chat").scroll_y == 0)
        await pilot.pause(0.3)
        after = screen_text(fresh)

    def chat(screen: str) -> list[str]:  # the chat column above the composer
        lines = [line[:76].rstrip() for line in screen.splitlines()]
        return lines[: next(i for i, line in enumerate(lines) if "Message, or /help" in line)]

    # From the top, the chat is drawn line for line as it was before quitting.
    assert chat(after) == chat(before)
    assert "⏹ cancelled" in after
    for end in (before_end, after_end):
        assert "round round" not in end and end.count("synthesis by gamma below") == 1
