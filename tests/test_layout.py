"""A layout that fits: 80x24 gives the chat the width, F2 shows the panels and is remembered."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM
from test_app import make_app
from test_app_helpers import screen_text, wait_for

from tui.ui.settings import read_ui_settings


async def test_at_80x24_the_chat_gets_at_least_70_columns_and_f2_shows_the_panels(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#timeline")))
        chat = app.query_one("#chat")
        assert chat.size.width >= 70
        assert "Routing" not in screen_text(app)
        await pilot.press("f2")
        await wait_for(pilot, lambda: "Routing" in screen_text(app))
    assert read_ui_settings(app.env)["side"] is True
    again = make_app(fake_llm, tmp_path)
    async with again.run_test(size=(80, 24)) as pilot:  # the choice is remembered
        await wait_for(pilot, lambda: "Routing" in screen_text(again))
        await pilot.press("f2")
        await wait_for(pilot, lambda: "Routing" not in screen_text(again))


async def test_wide_terminals_show_the_panels_beside_the_chat(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: "Routing" in screen_text(app) and "Timeline" in screen_text(app))
        assert app.query_one("#chat").size.width >= 100


async def test_picking_a_model_in_auto_mode_switches_to_manual_and_says_so(fake_llm: FakeLLM, tmp_path: Path) -> None:
    from test_app import type_and_send

    app = make_app(fake_llm, tmp_path)
    app.profile.routing.mode = "auto"
    async with app.run_test(size=(160, 45), notifications=True) as pilot:
        await type_and_send(pilot, "/model beta")
        await wait_for(pilot, lambda: "switched to manual" in screen_text(app))
    assert app.profile.routing.mode == "manual" and app.conversation.active_model == "beta"


async def test_timeline_details_are_labelled_fields_and_its_footer_sums_the_session(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from fakellm import Reply
    from test_app import type_and_send
    from test_app_helpers import idle

    from tui.ui.screens import DetailsScreen

    fake_llm.script("alpha", Reply(text="hi there", usage=(12, 30)))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await type_and_send(pilot, "hello")
        await idle(pilot, app)
        await wait_for(pilot, lambda: "1 turns · 42 tok" in screen_text(app))
        app.query_one("#timeline").focus()
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen))
        text = screen_text(app)
        assert "input_tokens: 12" in text and "model: alpha" in text and '"model"' not in text


async def test_page_keys_in_the_composer_move_the_chat_and_new_output_below_is_said(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    from fakellm import Reply
    from test_app import type_and_send

    from tui.core.conversation import Conversation
    from tui.core.types import Message

    fake_llm.script("alpha", Reply(text="more " * 3000, chunk_delay=0.005))
    messages = [Message("user" if i % 2 == 0 else "assistant", f"line {i}\n" * 5, None if i % 2 == 0 else "alpha")
                for i in range(40)]
    app = make_app(fake_llm, tmp_path, Conversation(messages, active_model="alpha"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#composer")))
        chat = app.query_one("#chat")
        await wait_for(pilot, lambda: chat.max_scroll_y > 0 and chat.scroll_y == chat.max_scroll_y)
        app.query_one("#composer").focus()
        bottom = chat.scroll_y
        await pilot.press("pageup")
        await wait_for(pilot, lambda: chat.scroll_y < bottom)
        await type_and_send(pilot, "stream now")
        await pilot.press("pageup", "pageup")
        await wait_for(pilot, lambda: "new output below" in screen_text(app), timeout=15)


def test_a_consult_and_a_vote_name_their_models_on_the_timeline() -> None:
    from tui.core.events import ConsultEvent, VoteEvent
    from tui.ui.timeline import describe

    consult = describe(ConsultEvent("alpha", "beta", "is 7 prime?", "yes", {"output_tokens": 3}).to_record()).plain
    vote = describe(VoteEvent("pick", "beta", ("alpha",)).to_record()).plain
    assert "alpha asked beta" in consult and "beta over alpha" in vote


def test_timeline_figures_are_never_cut() -> None:
    """A line gives its figures room first (the names are cut), and the footer's totals fit
    the panel's border: both were cut at 120 and 160 columns ("$0.00…", "0.…")."""
    from tui.core.events import TurnEvent
    from tui.ui.timeline import LINE_WIDTH, describe, totals

    turn = TurnEvent("a-model-with-a-long-name", "text", {"input_tokens": 123456, "output_tokens": 7890}, 0.1234,
                     12.5, "stop", purpose="summary").to_record()
    line = describe(turn).plain
    assert len(line) <= LINE_WIDTH and "131k tok" in line and "$0.1234" in line and "12.5s" in line
    unknown = TurnEvent("b", "x", {"input_tokens": 5, "output_tokens": 5}, None, 0.25, "stop").to_record()
    footer = totals([turn, unknown, turn])
    assert len(footer) <= 38 and footer.endswith("25.2s") and "$0.2468+?" in footer
