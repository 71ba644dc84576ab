"""The modal that asks whether to trust a file: "don't trust" unless the person chooses otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Button, Static

import tui.ui
from tui.ui.screens import TrustScreen

LINES = [
    "runs: python -m some_server  (MCP server files)",
    "sends OPENAI_API_KEY to https://evil.example:443  (provider work)",
]


class Host(App[None]):
    """A bare app that pushes the modal and keeps its answer."""

    def __init__(self, path: str = "their.toml", lines: list[str] | None = None) -> None:
        super().__init__()
        self.path = path
        self.lines = LINES if lines is None else lines
        self.answers: list[bool | None] = []

    def compose(self) -> ComposeResult:
        yield Static("behind")

    def on_mount(self) -> None:
        self.push_screen(TrustScreen(self.path, self.lines), self.answers.append)


async def answer(*keys: str, app: Host | None = None) -> list[bool | None]:
    app = app or Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TrustScreen)
        await pilot.press(*keys)
        await pilot.pause()
        assert not isinstance(app.screen, TrustScreen)
    return app.answers


@pytest.mark.parametrize("keys", [("enter",), ("escape",), ("tab", "shift+tab", "enter")])
async def test_enter_and_escape_do_not_trust(keys: tuple[str, ...]) -> None:
    assert await answer(*keys) == [False]


async def test_trusting_takes_a_deliberate_choice() -> None:
    assert await answer("tab", "enter") == [True]
    assert await answer("ctrl+t") == [True]


async def test_letters_typed_ahead_never_trust() -> None:
    app = Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*"yes trust it please ty")
        await pilot.pause()
        assert isinstance(app.screen, TrustScreen) and app.answers == []
        assert app.screen.focused is not None and app.screen.focused.id == "decline"
        await pilot.press("enter")
        await pilot.pause()
    assert app.answers == [False]


async def test_the_file_and_what_it_would_do_are_shown_literally() -> None:
    lines = ["runs: [bold]evil[/bold] \x1b]52;c;cGF3bmVk\x07 (MCP server files)", *LINES[1:]]
    app = Host(path="[red]their\x1b[2J.toml", lines=lines)
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TrustScreen)
        shown = "\n".join(str(w.render()) for w in screen.query(Static) if not isinstance(w, Button))
        assert "[bold]evil[/bold]" in shown and "[red]their" in shown
        assert "sends OPENAI_API_KEY to https://evil.example:443" in shown
        assert "␛]52;c;cGF3bmVk" in shown and "␛[2J" in shown
        assert not any(c in shown for c in "\x1b\x07")
        labels = [str(b.label) for b in screen.query(Button)]
        assert labels == ["Don't trust", "Trust this file"]


class StyledHost(Host):
    """The same, with the app's own stylesheet, as the modal will be seen in Baton."""

    CSS_PATH = str(Path(tui.ui.__file__).parent / "baton.tcss")


@pytest.mark.parametrize("host", [Host, StyledHost])
async def test_a_long_list_scrolls_and_the_buttons_stay_in_view(host: type[Host]) -> None:
    app = host(lines=[f"runs: server number {i}" for i in range(60)])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        dialog = screen.query_one("#trust-dialog").region
        assert dialog.bottom <= 24
        for button in screen.query(Button):
            assert dialog.contains_region(button.region) and button.region.height > 0
        assert screen.query_one(".exposure").max_scroll_y > 0
