"""A layout that fits: 80x24 gives the chat the width, F2 shows the panels and is remembered."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM
from test_app import make_app
from test_app_helpers import screen_text, wait_for

from tui.ui.app import read_ui_settings


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
