"""MCP servers in the app: started after the first frame, shown in the panel, approved per call."""

from __future__ import annotations

import sys
from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app_helpers import fake_profile, idle, screen_text, wait_for

from tui.core.profile import McpServerDef
from tui.ui.app import BatonApp
from tui.ui.screens import ApprovalScreen

SERVERS = Path(__file__).parent / "mcp_servers"


def mcp_app(llm: FakeLLM, tmp_path: Path) -> BatonApp:
    servers = {
        "echo": McpServerDef(command=sys.executable, args=[str(SERVERS / "echo_server.py")], approve=True),
        "broken": McpServerDef(command=sys.executable, args=[str(SERVERS / "crash_server.py")]),
    }
    return BatonApp(fake_profile(llm.openai_base, mcp_servers=servers), env={}, session_path=tmp_path / "s.toml")


async def test_servers_start_after_the_first_frame_and_failures_are_reported(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    app = mcp_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: "echo (stdio): connected" in screen_text(app), timeout=30)
        text = screen_text(app)
        assert "add, echo, env" in text
        assert "broken (stdio): failed" in text
        # A toast names the cause, from the server's stderr.
        await wait_for(pilot, lambda: "crash server: missing configuration" in screen_text(app))


async def test_a_tool_call_asks_for_approval_and_shows_in_chat_and_timeline(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("alpha", Reply(tool_calls=[("echo__echo", {"text": "ping"})]), Reply(text="it said ping"),
                    Reply(tool_calls=[("echo__echo", {"text": "again"})]), Reply(text="done"))
    app = mcp_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: "echo (stdio): connected" in screen_text(app), timeout=30)
        composer = app.query_one("#composer")
        composer.insert("use the tool")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        assert "Run tool echo on MCP server echo?" in screen_text(app)
        await pilot.press(*"sod yes", "enter")  # letters typed at it approve nothing; enter is Deny ...
        await wait_for(pilot, lambda: not isinstance(app.screen, ApprovalScreen))
        await wait_for(pilot, lambda: "denied" in screen_text(app).lower())
        await idle(pilot, app)
        assert "⚙ alpha called echo.echo" in screen_text(app) and "it said ping" in screen_text(app)
    calls = [e.to_record() for e in app.conversation.events if e.type == "tool_call"]
    assert calls[0]["error"] and "ping" not in (calls[0]["result"] or "").replace("'ping'", "")


async def test_approving_a_tool_takes_a_deliberate_key(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(tool_calls=[("echo__echo", {"text": "ping"})]), Reply(text="it said ping"),
                    Reply(tool_calls=[("echo__echo", {"text": "again"})]), Reply(text="done"))
    app = mcp_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: "echo (stdio): connected" in screen_text(app), timeout=30)
        composer = app.query_one("#composer")
        composer.insert("use the tool")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("ctrl+s")  # allow for the session
        await idle(pilot, app)
        text = screen_text(app)
        assert "⚙ alpha called echo.echo {'text': 'ping'}" in text
        assert "tool_call alpha echo.echo" in text
        assert "it said ping" in text
        # Allowed for the session: the second call does not ask again.
        composer.focus()
        composer.insert("once more")
        await pilot.press("enter")
        await idle(pilot, app)
        assert not isinstance(app.screen, ApprovalScreen)
        assert "done" in screen_text(app)
    calls = [e.to_record() for e in app.conversation.events if e.type == "tool_call"]
    assert [c["result"] for c in calls] == ["ping", "again"]
