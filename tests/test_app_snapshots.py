"""SVG snapshots of the main screen (pytest-textual-snapshot); `--snapshot-update` to accept."""

from __future__ import annotations

from pathlib import Path

from test_app_helpers import fake_profile
from textual.pilot import Pilot

from tui.core.conversation import Conversation
from tui.core.events import TimelineEvent
from tui.core.profile import Constraints
from tui.core.session import load_session, save_session
from tui.core.types import Message, ToolCall
from tui.ui.app import BatonApp
from tui.ui.composer import Composer

SIZE = (120, 40)
FIXED_ENV = {"BATON_CONFIG_DIR": "/home/person/.config/baton"}


async def steady(pilot: Pilot) -> None:
    """A steady cursor, so the picture does not depend on when the blink was caught."""
    # The composer, panels and footer are mounted just after the first frame.
    while not (pilot.app.query(Composer) and pilot.app.query("#timeline") and pilot.app.query("Footer")):
        await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    pilot.app.query_one(Composer).cursor_blink = False
    await pilot.pause()


def short_conversation() -> Conversation:
    messages = [
        Message("user", "Find three facts about octopuses."),
        Message("assistant", "1. Three hearts.\n2. Blue blood.\n3. Nine brains, *roughly*.", "alpha"),
        Message("assistant", "", "alpha", (ToolCall("c1", "transfer_to_beta", {"instructions": "a haiku"}),)),
        Message("tool", "Handed off to beta.", tool_call_id="c1", tool_name="transfer_to_beta"),
        Message("assistant", "Three hearts beating\nblue blood in the deep dark sea\nnine minds, one body", "beta"),
        Message("user", "Which fact is the strangest?"),
        Message("assistant", "The nine brains.", "alpha", lane="alpha"),
        Message("assistant", "The blue blood.", "beta", lane="beta"),
        Message("assistant", "Most people pick the nine brains.", "gamma"),
    ]
    events = [
        {"type": "turn", "model": "alpha", "text": "...", "usage": {"input_tokens": 12, "output_tokens": 30},
         "cost_usd": 0.0004, "latency_s": 1.2, "finish_reason": "stop", "partial": False, "purpose": "answer",
         "time": 1700000000.0},
        {"type": "handoff", "from": "alpha", "to": "beta", "reason": "tool", "instructions": "a haiku",
         "package": {"target_model": "beta"}, "time": 1700000001.0},
        {"type": "turn", "model": "beta", "text": "...", "usage": {"input_tokens": 40, "output_tokens": 17},
         "latency_s": 0.8, "finish_reason": "stop", "partial": False, "purpose": "answer", "time": 1700000002.0},
        {"type": "parallel", "models": ["alpha", "beta"],
         "answers": {"alpha": "The nine brains.", "beta": "The blue blood."}, "errors": {},
         "synthesizer": "gamma", "synthesis": "Most people pick the nine brains.", "latency_s": 2.5,
         "time": 1700000003.0},
    ]
    return Conversation(messages, events, active_model="beta")


def test_empty_app_with_a_profile(snap_compare, tmp_path: Path) -> None:
    profile = fake_profile()
    profile.routing.rules = {"code_generation": "beta", "research": "alpha"}
    profile.routing.constraints = Constraints(max_cost_usd=0.05, strengths=["reasoning"])
    app = BatonApp(profile, env=FIXED_ENV, session_path=tmp_path / "s.toml")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady)


def test_restored_short_conversation(snap_compare, tmp_path: Path) -> None:
    path = tmp_path / "short.toml"
    save_session(path, fake_profile(), short_conversation())
    profile, conversation = load_session(path)
    app = BatonApp(profile, conversation, env=FIXED_ENV, session_path=path)
    assert snap_compare(app, terminal_size=SIZE, run_before=steady)


def test_no_provider_notice(snap_compare, tmp_path: Path) -> None:
    from tui.core.profile import Profile

    app = BatonApp(Profile(), env=FIXED_ENV, session_path=tmp_path / "s.toml")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady)


def consensus_conversation() -> Conversation:
    messages = [
        Message("user", "Which is the best sorting algorithm for nearly sorted data?"),
        Message("assistant", "Insertion sort: linear on nearly sorted input.", "alpha", lane="alpha"),
        Message("assistant", "Timsort, which finds the sorted runs.", "beta", lane="beta"),
        Message("assistant", "RANKING: B > A\nTimsort adapts to runs and is stable.", "gamma", lane="judge"),
        Message("assistant", "Timsort, which finds the sorted runs.", "beta"),
    ]
    conversation = Conversation(messages, active_model="alpha")
    question = conversation.path()[0].id
    conversation.events = [TimelineEvent.from_record(
        {"type": "consensus", "models": ["alpha", "beta"], "judge": "gamma", "ranking": ["beta", "alpha"],
         "winner": "beta", "answers": {"alpha": "Insertion sort: linear on nearly sorted input.",
                                       "beta": "Timsort, which finds the sorted runs."},
         "labels": {"A": "alpha", "B": "beta"}, "latency_s": 1.4, "at": question, "time": 1700000005.0})]
    return conversation


def test_a_consensus_round(snap_compare, tmp_path: Path) -> None:
    app = BatonApp(fake_profile(), consensus_conversation(), env=FIXED_ENV, session_path=tmp_path / "s.toml")
    assert snap_compare(app, terminal_size=SIZE, run_before=steady)


def test_narrow_layout_at_80x24(snap_compare, tmp_path: Path) -> None:
    app = BatonApp(fake_profile(), short_conversation(), env=FIXED_ENV, session_path=tmp_path / "s.toml")
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady)


def test_tool_approval_modal(snap_compare, tmp_path: Path) -> None:
    from tui.ui.screens import ApprovalScreen

    async def approval(pilot) -> None:
        await steady(pilot)
        pilot.app.push_screen(ApprovalScreen("files", "write_file", {"path": "notes.md", "text": "hello"}))
        await pilot.pause()

    app = BatonApp(fake_profile(), env=FIXED_ENV, session_path=tmp_path / "s.toml")
    assert snap_compare(app, terminal_size=SIZE, run_before=approval)


def test_an_answer_streaming(snap_compare, tmp_path: Path, fake_llm, monkeypatch) -> None:
    """Mid-stream: the first piece shown, the status line naming the model and the phase
    (its clock held still, so the picture does not depend on when it was taken)."""
    from fakellm import Reply
    from test_app_helpers import screen_text, wait_for

    import tui.ui.status as status

    monkeypatch.setattr(status, "clock", lambda: 1000.0)
    fake_llm.script("alpha", Reply(text="The first words arrive, then the rest takes its time.", chunk_size=24,
                                   chunk_delay=4))

    async def streaming(pilot: Pilot) -> None:
        await steady(pilot)
        composer = pilot.app.query_one(Composer)
        composer.insert("tell me slowly")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "The first words arrive," in screen_text(pilot.app))
        await pilot.pause(0.3)

    app = BatonApp(fake_profile(fake_llm.openai_base), env=FIXED_ENV, session_path=tmp_path / "s.toml")
    assert snap_compare(app, terminal_size=SIZE, run_before=streaming)
