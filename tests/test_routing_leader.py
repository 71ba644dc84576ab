"""The routing panel shows, for the current task type, who leads your own leaderboard."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for
from textual.widgets import Select, Static

from tui.core import votes


def leader_text(app) -> str:
    return str(app.query_one("#leader", Static).render())


async def test_the_leader_follows_the_task_type_and_a_new_vote(fake_llm: FakeLLM, tmp_path: Path) -> None:
    games = [votes.Game("gamma", ("beta",), task_type="code_generation", time=1.0),
             votes.Game("gamma", ("beta",), task_type="code_generation", time=2.0),
             votes.Game("gamma", ("beta",), task_type="code_generation", time=3.0),
             votes.Game("beta", ("gamma",), task_type="research", time=4.0)]
    app = make_app(fake_llm, tmp_path)
    votes.record(games, app.env)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#leader")))
        assert "overall: gamma · won 75% of 4 games" in leader_text(app)
        app.query_one("#rule-task", Select).value = "research"
        await wait_for(pilot, lambda: "research: beta · won 100% of 1 games" in leader_text(app))
        app.query_one("#rule-task", Select).value = "creative_writing"
        await wait_for(pilot, lambda: "overall (none yet for creative_writing): gamma" in leader_text(app))
        assert "Your leader" in screen_text(app)

        # A blind compare's vote moves the board at once.
        fake_llm.script("beta", Reply(text="one style"))
        fake_llm.script("gamma", Reply(text="another style"))
        app.query_one("#rule-task", Select).clear()
        await type_and_send(pilot, "/compare beta gamma -- say something")
        await wait_for(pilot, lambda: "/vote A" in screen_text(app))
        await idle(pilot, app)
        text = screen_text(app)
        await type_and_send(pilot, "/vote " + ("A" if text.index("one style") < text.index("another style") else "B"))
        await wait_for(pilot, lambda: "beta over gamma" in screen_text(app))
        await wait_for(pilot, lambda: "overall: gamma · won 60% of 5 games" in leader_text(app))


async def test_no_votes_says_how_to_get_some(fake_llm: FakeLLM, tmp_path: Path) -> None:
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#leader")))
        assert "no votes yet" in leader_text(app)
