"""The app, driven through Pilot against the loopback fake LLM server."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app_helpers import fake_profile, idle, screen_text, wait_for
from textual.widgets import Select, Switch

from tui.core.conversation import Conversation
from tui.core.profile import Profile
from tui.core.profile_io import load_profile
from tui.core.session import load_session
from tui.ui.app import BatonApp
from tui.ui.chat import AnswerView

SIZE = (120, 40)


def make_app(llm: FakeLLM, tmp_path: Path, conversation: Conversation | None = None, **overrides: object) -> BatonApp:
    return BatonApp(
        fake_profile(llm.openai_base, **overrides),
        conversation,
        env={},
        session_path=tmp_path / "session.toml",
    )


async def type_and_send(pilot, text: str) -> None:
    while not pilot.app.query("#composer"):  # mounted just after the first frame
        await pilot.pause()
    composer = pilot.app.query_one("#composer")
    composer.focus()
    composer.insert(text)
    await pilot.press("enter")


async def test_streamed_answer_is_labelled_with_its_model(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="The answer is **forty-two**.", chunk_delay=0.01))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        # Typed at once, before the composer replaces its first-frame stand-in: kept.
        await pilot.press(*"what is it", "enter")
        await idle(pilot, app)
        assert app.focused is app.query_one("#composer")
        text = screen_text(app)
        assert "what is it" in text
        assert "The answer is forty-two." in text
        label_line = text.splitlines()[[i for i, line in enumerate(text.splitlines())
                                        if "The answer is" in line][0] - 1]
        assert "alpha" in label_line
        assert "turn" in text  # the timeline line for the turn
    messages = app.conversation.messages
    assert [(m.role, m.model, m.content) for m in messages] == [
        ("user", None, "what is it"),
        ("assistant", "alpha", "The answer is **forty-two**."),
    ]
    # Autosaved after the completed turn.
    _, saved = load_session(tmp_path / "session.toml")
    assert saved.messages[-1].content == "The answer is **forty-two**."


async def test_handoff_moves_later_turns_and_adds_a_timeline_line(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "first question")
        await idle(pilot, app)
        assert len(fake_llm.requests_for("alpha")) == 1
        await type_and_send(pilot, "/handoff beta please take over")
        await idle(pilot, app)
        await type_and_send(pilot, "second question")
        await idle(pilot, app)
        text = screen_text(app)
        assert "handoff   alpha → beta" in text  # timeline
        assert "⇢ handoff alpha → beta: please take over" in text  # chat
        assert "echo: second question" in text
    assert len(fake_llm.requests_for("alpha")) == 1
    beta = fake_llm.requests_for("beta")
    assert len(beta) == 2  # the handoff instructions, then the later turn
    assert beta[-1].body["messages"][-1]["content"] == "second question"
    handoff = app.conversation.events[1].to_record()
    assert handoff["type"] == "handoff"
    assert handoff["package"]["target_model"] == "beta" and handoff["to"] == "beta"


async def test_parallel_round_shows_every_answer_and_the_synthesis(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="alpha thinks A", chunk_delay=0.01))
    fake_llm.script("beta", Reply(text="beta thinks B", chunk_delay=0.01))
    fake_llm.script("gamma", Reply(text="together: A and B"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/parallel alpha beta --synth gamma which letter")
        await idle(pilot, app)
        text = screen_text(app)
        assert "parallel round" in text
        assert "alpha thinks A" in text and "beta thinks B" in text
        assert "gamma · synthesis" in text
        assert "together: A and B" in text
        assert "parallel  alpha, beta ⇒ gamma" in text
    assert app.conversation.messages[-1].content == "together: A and B"


async def test_consensus_round_shows_answers_ranking_and_winner(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="alpha says 4"))
    fake_llm.script("beta", Reply(text="beta says 5"))
    # The judge sees anonymous labels; "A > B" ranks whichever came first.
    fake_llm.script("gamma", Reply(text="RANKING: A > B\nA is right."))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/consensus alpha beta --judge gamma two plus two")
        await idle(pilot, app)
        text = screen_text(app)
        record = app.conversation.events[-1].to_record()
        assert record["type"] == "consensus"
        winner, loser = record["ranking"]
        assert "consensus round" in text
        assert "alpha says 4" in text and "beta says 5" in text
        assert "gamma · judge" in text
        assert f"🏆 winner {winner} · ranking {winner} > {loser} · judge gamma" in text
        assert f"winner {winner}" in text.split("Timeline")[1]


async def test_model_initiated_transfer_shows_in_the_timeline(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(tool_calls=[("transfer_to_beta", {"instructions": "write the poem"})]))
    fake_llm.script("beta", Reply(text="Roses are red."))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "a poem please")
        await idle(pilot, app)
        text = screen_text(app)
        assert "handoff   alpha → beta" in text
        assert "⇢ handoff alpha → beta (tool): write the poem" in text
        assert "Roses are red." in text
    assert app.conversation.active_model == "beta"
    handoffs = [e.to_record() for e in app.conversation.events if e.type == "handoff"]
    assert handoffs and handoffs[0]["reason"] == "tool"


async def test_escape_mid_stream_keeps_the_partial_answer(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="word " * 400, chunk_delay=0.03, chunk_size=5))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "talk a lot")
        await wait_for(pilot, lambda: "word word word" in screen_text(app))
        await pilot.press("escape")
        await idle(pilot, app)
        text = screen_text(app)
        assert "alpha · partial" in text
        assert "cancelled: what arrived is kept" in text
        assert "word word word" in text
        # The app keeps working after a cancel.
        await type_and_send(pilot, "still there?")
        await idle(pilot, app)
        assert "echo: still there?" in screen_text(app)
    partial = [m for m in app.conversation.messages if m.partial]
    assert len(partial) == 1
    assert partial[0].model == "alpha" and partial[0].content.startswith("word word")
    assert len(partial[0].content) < len("word " * 400)
    _, saved = load_session(tmp_path / "session.toml")
    assert any(m.partial and m.content.startswith("word") for m in saved.messages)


async def test_partial_answer_is_on_disk_while_it_streams(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="slow " * 200, chunk_delay=0.02, chunk_size=5))
    app = make_app(fake_llm, tmp_path)
    path = tmp_path / "session.toml"

    def partial_on_disk() -> bool:
        if not path.exists():
            return False
        _, saved = load_session(path)
        return any(m.partial and m.content.startswith("slow") for m in saved.messages)

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "go slowly")
        await wait_for(pilot, partial_on_disk, timeout=3.5)
        assert any(w.is_running for w in app.workers if w.group == "run")  # still streaming
        await pilot.press("escape")
        await idle(pilot, app)


async def test_save_then_load_restores_messages_and_timeline(fake_llm: FakeLLM, tmp_path: Path) -> None:
    saved_path = tmp_path / "kept.toml"
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "remember this")
        await idle(pilot, app)
        await type_and_send(pilot, "/handoff beta tidy it up")
        await idle(pilot, app)
        await type_and_send(pilot, f"/save {saved_path}")
        await pilot.pause()
        before = screen_text(app)
    assert saved_path.exists()

    # A fresh app given the session, as `baton --session PATH` does.
    profile, conversation = load_session(saved_path)
    fresh = BatonApp(profile, conversation, env={}, session_path=saved_path)
    async with fresh.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        text = screen_text(fresh)
        for expected in ("remember this", "echo: remember this", "turn      alpha", "handoff   alpha → beta",
                         "⇢ handoff alpha → beta: tidy it up", "echo: tidy it up"):
            assert expected in before and expected in text
        # in the chat, the handoff line sits between alpha's answer and the instructions
        assert text.index("echo: remember this") < text.index("⇢ handoff alpha → beta") < text.index("echo: tidy")
        assert fresh.conversation.active_model == "beta"

    # And /load in a running app replaces what is shown.
    other = make_app(fake_llm, tmp_path)
    async with other.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, f"/load {saved_path}")
        await wait_for(pilot, lambda: "echo: remember this" in screen_text(other))
        await wait_for(pilot, lambda: "handoff   alpha → beta" in screen_text(other))
        assert [m.content for m in other.conversation.messages] == [
            "remember this", "echo: remember this", "tidy it up", "echo: tidy it up"]


async def test_markup_and_escape_sequences_in_answers_stay_literal(fake_llm: FakeLLM, tmp_path: Path) -> None:
    hostile = "[bold]x[/bold] and \x1b[31mred\x1b[0m then \x1b]0;pwned\x07 end"
    fake_llm.script("alpha", Reply(text=hostile, chunk_size=3))
    fake_llm.script("[b]odd[/b]", Reply(text="fine"))
    app = make_app(fake_llm, tmp_path)
    app.profile.models["[b]odd[/b]"] = app.profile.models["alpha"].__class__(model="fake/[b]odd[/b]")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "say [i]it[/i]")
        await idle(pilot, app)
        await type_and_send(pilot, "/model [b]odd[/b]")
        await pilot.pause()
        await type_and_send(pilot, "again")
        await idle(pilot, app)
        text = screen_text(app)
        assert "[bold]x[/bold] and ␛[31mred␛[0m then ␛]0;pwned␇ end" in text
        assert "say [i]it[/i]" in text
        assert "[b]odd[/b]" in text  # the model's label, not bold "odd"
        assert "\x1b" not in text and "\x07" not in text
        # The timeline details modal shows the record literally too.
        await pilot.press("ctrl+t", "home", "enter")
        await pilot.pause()
        details = screen_text(app)
        assert "turn details" in details and "[bold]x[/bold]" in details
        assert "␛[31mred" in details  # shown as a picture, never raw
        assert "\x1b" not in details
    assert app.conversation.messages[1].content == hostile  # stored as the model sent it


async def test_without_a_provider_the_app_explains_how_to_add_one(tmp_path: Path) -> None:
    app = BatonApp(Profile(), env={}, session_path=tmp_path / "s.toml")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        text = screen_text(app)
        for expected in ("No model is ready yet", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEDALUS_API_KEY",
                         "OPENROUTER_API_KEY", "OLLAMA_HOST", ".env"):
            assert expected in text
        await type_and_send(pilot, "hello?")
        await idle(pilot, app)
        text = screen_text(app)
        assert "✗ no model selected" in text
        assert app.is_running


async def test_a_missing_key_is_named_in_the_notice(tmp_path: Path) -> None:
    app = BatonApp(Profile(default_model="anthropic/claude-sonnet-4-5"), env={}, session_path=tmp_path / "s.toml")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "no API key for provider 'anthropic'" in text and "ANTHROPIC_API_KEY" in text


async def test_unknown_or_malformed_commands_show_an_error_and_the_app_goes_on(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/frobnicate now")
        await pilot.pause()
        assert "unknown command '/frobnicate'" in screen_text(app)
        await type_and_send(pilot, "/route sideways")
        await pilot.pause()
        assert "usage: /route auto|manual" in screen_text(app)
        await type_and_send(pilot, "/model nosuchprovider/x")
        await pilot.pause()
        assert "unknown provider 'nosuchprovider'" in screen_text(app)
        await type_and_send(pilot, "/load /no/such/file.toml")
        await pilot.pause()
        assert "/no/such/file.toml" in screen_text(app)
        await type_and_send(pilot, "hello after errors")
        await idle(pilot, app)
        assert "echo: hello after errors" in screen_text(app)


async def test_routing_panel_edits_reach_the_engine_and_the_saved_profile(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    app = make_app(fake_llm, tmp_path)
    profile_path = tmp_path / "profile.toml"
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()  # the side pane is mounted just after the first frame
        app.query_one("#model-select", Select).value = "gamma"
        await pilot.pause()
        await type_and_send(pilot, "who answers")
        await idle(pilot, app)
        assert len(fake_llm.requests_for("gamma")) == 1
        app.query_one("#rule-task", Select).value = "research"
        await pilot.pause()
        app.query_one("#rule-model", Select).value = "beta"
        await pilot.pause()
        assert "research → beta" in screen_text(app)
        await pilot.click("#auto-switch")
        await pilot.pause()
        assert app.query_one("#auto-switch", Switch).value
        await type_and_send(pilot, f"/profile save {profile_path}")
        await pilot.pause()
    saved = load_profile(profile_path)
    assert saved.routing.rules == {"research": "beta"}
    assert saved.routing.mode == "auto"


async def test_auto_route_decision_shows_in_the_panel(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path)
    app.profile.routing.rules = {"code_generation": "beta"}
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+r")
        await type_and_send(pilot, "write a python function that sorts a list")
        await idle(pilot, app)
        text = screen_text(app)
        assert "code_generation → beta" in text.split("Last decision")[1]
        assert "route     code_generation → beta" in text
    assert len(fake_llm.requests_for("beta")) == 1


async def test_copy_keys_copy_the_answer_and_its_last_code_block(fake_llm: FakeLLM, tmp_path: Path) -> None:
    answer = "Here:\n\n```python\nprint('one')\n```\n\nand\n\n```sh\necho two\n```\n"
    fake_llm.script("alpha", Reply(text=answer))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "code please")
        await idle(pilot, app)
        await pilot.press("ctrl+o")
        assert app.clipboard == answer
        await pilot.press("ctrl+b")
        assert app.clipboard == "echo two"


async def test_command_palette_runs_commands(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Route: auto")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.profile.routing.mode == "auto")
        await pilot.press("ctrl+p")
        await pilot.press(*"Model: beta")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.conversation.active_model == "beta")


async def test_profile_keymap_rebinds_keys(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path, keymap={"copy_answer": "f5"})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "f5 Copy answer" in footer and "^o" not in footer


async def test_help_lists_commands_and_keys(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await type_and_send(pilot, "/help")
        await wait_for(pilot, lambda: "/consensus" in screen_text(app) and "ranked by a judge" in screen_text(app))
        assert "ctrl+j inserts a new line" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.query_one("#composer")


async def test_a_long_session_mounts_only_recent_messages(fake_llm: FakeLLM, tmp_path: Path) -> None:
    from tui.core.types import Message

    messages = []
    for i in range(1000):
        messages.append(Message("user", f"question {i}"))
        messages.append(Message("assistant", f"answer **{i}**", "alpha"))
    app = make_app(fake_llm, tmp_path, Conversation(messages, active_model="alpha"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "answer 999" in text
        shown = len(app.query(AnswerView))
        assert shown <= 40
        chat = app.query_one("#chat")
        chat.scroll_home(animate=False)
        await wait_for(pilot, lambda: len(app.query(AnswerView)) > shown)
        assert "earlier messages · scroll up to show more" in screen_text(app)


async def test_the_app_appends_every_event_to_the_audit_trail(fake_llm: FakeLLM, tmp_path: Path,
                                                              isolated_home: Path) -> None:
    import json

    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "hello")
        await idle(pilot, app)
        await type_and_send(pilot, "/handoff beta go on")
        await idle(pilot, app)
    records = [json.loads(line) for line in (isolated_home / ".local" / "share" / "baton" / "audit.jsonl").read_text().splitlines()]
    assert [r["type"] for r in records] == ["turn", "handoff", "turn"]
    assert records[1]["from"] == "alpha" and records[1]["to"] == "beta"


async def test_keys_read_while_the_composer_mounts_are_kept(fake_llm: FakeLLM, tmp_path: Path, monkeypatch) -> None:
    """Keys that come in while the composer replaces its first-frame stand-in: the chat
    had the focus then, and a key handed to it came back unhandled after the composer had
    taken over, and was lost (in tmux, text typed about 0.3 s after start-up)."""
    import inspect

    from textual import events

    from tui.ui.composer import Composer

    mounted = Composer._on_mount
    typed = "zebra"

    async def on_mount(self, event) -> None:
        for ch in typed:
            self.app.post_message(events.Key(ch, ch))
        result = mounted(self, event)
        if inspect.isawaitable(result):
            await result

    monkeypatch.setattr(Composer, "_on_mount", on_mount)
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#composer")))
        await idle(pilot, app)
        assert app.query_one("#composer", Composer).text == typed
