"""A live, honest screen: it moves while a model is slow, says what each answer cost,
holds a budget, and shows how full the context is."""

from __future__ import annotations

from pathlib import Path

from fakellm import FakeLLM, Reply
from test_app import make_app, type_and_send
from test_app_helpers import idle, screen_text, wait_for
from test_cli import baton, write_profile


async def test_a_slow_first_token_shows_the_model_and_the_time_going_by(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="at last", delay=2.0))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await type_and_send(pilot, "take your time")
        await wait_for(pilot, lambda: "alpha · waiting for the first token · 0." in screen_text(app))
        first = next(line for line in screen_text(app).splitlines() if "waiting for the first token" in line)
        await wait_for(pilot, lambda: "waiting for the first token · 1." in screen_text(app))
        second = next(line for line in screen_text(app).splitlines() if "waiting for the first token" in line)
        assert first != second  # the screen changes while nothing arrives
        await wait_for(pilot, lambda: "at last" in screen_text(app))


async def test_each_answer_says_its_tokens_time_and_cost(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="priced answer", usage=(1000, 500)))
    fake_llm.script("beta", Reply(text="unpriced answer", usage=(10, 5)))
    app = make_app(fake_llm, tmp_path)
    app.profile.models["alpha"].input_price = 2.0
    app.profile.models["alpha"].output_price = 8.0
    async with app.run_test(size=(160, 45)) as pilot:
        await type_and_send(pilot, "one")
        await idle(pilot, app)
        await type_and_send(pilot, "/regen beta")
        await wait_for(pilot, lambda: "unpriced answer" in screen_text(app))
        await idle(pilot, app)
        text = screen_text(app)
        assert "1,000 in · 500 out" in text and "$0.0060" in text
        assert "10 in · 5 out" in text and "cost unknown" in text
        assert "session $0.0060 + unknown" in text and "context" in text


def test_baton_ask_stops_at_the_budget_with_one_line(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="expensive " * 3000))
    profile = write_profile(tmp_path, fake_llm, "\n[limits]\nbudget_usd = 0.001\n")
    r = baton("ask", "--profile", str(profile), "spend it", tmp=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("baton ask: stopped at the budget of $0.0010")
    assert 0 < r.stdout.count("expensive") < 3000  # what arrived before the stop is kept


def test_a_cost_too_small_for_the_screen_does_not_read_as_free() -> None:
    from tui.ui.text import dollars

    assert dollars(0.00002) == "<$0.0001" and dollars(0.0042) == "$0.0042" and dollars(0) == "$0.0000"


async def test_at_80_columns_the_phase_comes_before_the_sessions_totals(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """At 80x24 the totals beside the phase (once the context window was known to be
    unknown) cut it to "waiting for th…": what is happening now is shown whole first."""
    fake_llm.script("alpha", Reply(text="at last", delay=1.5))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: bool(app.query("#status")))
        status = app.query_one("#status")
        status.set_totals("session $0 · 0 tok · context ~7 tok (window unknown)")  # type: ignore[attr-defined]
        await type_and_send(pilot, "take your time")
        await wait_for(pilot, lambda: "● alpha · waiting for the first token · " in screen_text(app))
        line = next(x for x in screen_text(app).splitlines() if "waiting for the first token" in x)
        assert "session $0" in line  # the totals keep what room is left
        await wait_for(pilot, lambda: "at last" in screen_text(app))


async def test_compact_typed_in_the_app_shrinks_the_meter_and_the_next_request(
        fake_llm: FakeLLM, tmp_path: Path) -> None:
    """/compact as a person types it: the context meter goes down, the timeline records
    the summary with its cost, and the next request carries fewer messages."""
    import re

    fake_llm.script("alpha", *[Reply(text=f"answer {i} " + "words " * 60) for i in range(4)], Reply(text="after"))
    fake_llm.script("gamma", Reply(text="they talked about four things", usage=(400, 20)))
    app = make_app(fake_llm, tmp_path)
    app.profile.models["alpha"].context_window = 2000
    app.profile.models["gamma"].input_price = 0.1
    app.profile.models["gamma"].output_price = 0.2  # the cheapest priced model writes the summary

    def used() -> int:
        line = next(x for x in screen_text(app).splitlines() if "context " in x)
        return int(re.search(r"context (\d+)%", line).group(1))  # type: ignore[union-attr]

    async with app.run_test(size=(160, 45)) as pilot:
        for i in range(4):
            await type_and_send(pilot, f"question {i}")
            await idle(pilot, app)
        before = used()
        await type_and_send(pilot, "/compact")
        await wait_for(pilot, lambda: "compact" in screen_text(app) and used() < before)
        await type_and_send(pilot, "and now")
        await wait_for(pilot, lambda: "after" in screen_text(app))
        await idle(pilot, app)
    last = fake_llm.requests_for("alpha")[-1].body["messages"]
    assert len(last) == 1 + 4 + 1  # the summary, the last two turns, the new question (not 9)
    assert "question 0" not in str(last)


async def test_a_retry_is_one_line_in_the_chat(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """A retry used to show only on the status line and the timeline: the chat says it."""
    fake_llm.script("alpha", Reply(status=503, error="overloaded, try again"), Reply(text="second time lucky"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "hello")
        await wait_for(pilot, lambda: "second time lucky" in screen_text(app), timeout=20)
        text = screen_text(app)
        assert text.count("↻ retry 1 of alpha") == 1 and "overloaded" in text
