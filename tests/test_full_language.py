"""Every provider's and server's full language, end to end through the engine and
`baton ask`: reasoning kept apart, the provider's own cost, a tool's image as an image."""

from __future__ import annotations

import base64
import json

import pytest
from fakellm import FakeLLM, Reply
from test_cli import baton, write_profile

from tui.core.engine import Engine, drain
from tui.core.events import RunFinished, TurnEvent
from tui.core.profile import ModelDef, Profile, ProviderDef
from tui.core.session import load_session, save_session
from tui.core.tools import Media, ToolResult
from tui.core.types import ToolSpec

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()
ENV = {"FO_KEY": "sk-openai-secret-1234", "FA_KEY": "sk-anthropic-secret-5678"}


def engine(llm: FakeLLM, **kw: object) -> Engine:
    profile = Profile(
        name="t", default_model="alpha",
        providers={"fo": ProviderDef(kind="openai", base_url=llm.openai_base, api_key_env="FO_KEY"),
                   "fa": ProviderDef(kind="anthropic", base_url=llm.anthropic_base, api_key_env="FA_KEY")},
        models={"alpha": ModelDef("fo/alpha"), "beta": ModelDef("fa/beta")},
    )
    return Engine(profile, env=ENV, **kw)


@pytest.mark.parametrize("model", ["alpha", "beta"])
def test_baton_ask_json_keeps_reasoning_apart_and_uses_the_providers_cost(fake_llm, tmp_path, model):
    fake_llm.script(model, Reply(text="The answer is 4.", reasoning="2 and 2 make 4, checking...", cost=0.0123))
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "-m", model, "--json", "2+2?", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["final_output"] == "The answer is 4." and "checking" not in out["final_output"]
    turn = next(e for e in out["events"] if e["type"] == "turn")
    assert turn["reasoning"] == "2 and 2 make 4, checking..."
    if model == "alpha":  # OpenAI-format routers (OpenRouter, LiteLLM) report their own cost
        assert out["cost_usd"] == pytest.approx(0.0123)  # the provider's figure, not the price table's


async def test_anthropic_thinking_is_replayed_to_the_same_model_only(fake_llm, tmp_path) -> None:
    fake_llm.script("beta", Reply(text="first", reasoning="hmm", signature="sig-123"), Reply(text="second"))
    fake_llm.script("alpha", Reply(text="other"))
    e = engine(fake_llm)
    e.set_model("beta")
    await drain(e.send("one"))
    answer = e.conversation.path()[-1]
    assert answer.reasoning == "hmm" and answer.thinking[0][1] == "sig-123"
    save_session(tmp_path / "s.toml", e.profile, e.conversation)
    assert load_session(tmp_path / "s.toml")[1].path()[-1].thinking == answer.thinking
    await drain(e.send("two"))
    assert "sig-123" in json.dumps(fake_llm.requests_for("beta")[-1].body["messages"])
    e.set_model("alpha")
    await drain(e.send("three"))
    assert "sig-123" not in json.dumps(fake_llm.requests_for("alpha")[-1].body)


class ImageTools:
    def specs(self) -> list[ToolSpec]:
        return [ToolSpec("shots__take", "a screenshot")]

    def owner(self, name: str) -> tuple[str, str] | None:
        return ("shots", "take") if name == "shots__take" else None

    async def call(self, name: str, arguments: dict[str, object], **_: object) -> ToolResult:
        return ToolResult("shots", "take", "a chart\n[image/png, 1 KB]",
                          media=(Media("image", "image/png", PNG, 72),))

    def hosted_slugs(self) -> list[str]:
        return []

    def problems(self) -> list[str]:
        return []


@pytest.mark.parametrize("model", ["alpha", "beta"])
async def test_a_tools_image_reaches_both_wire_formats_as_an_image(fake_llm, model) -> None:
    fake_llm.script(model, Reply(tool_calls=[("shots__take", {})]), Reply(text="I see a chart"))
    e = engine(fake_llm, tools=ImageTools())
    e.set_model(model)
    events = await drain(e.send("take a shot"))
    assert isinstance(events[-1], RunFinished)
    body = fake_llm.requests_for(model)[-1].body
    text = json.dumps(body)
    assert PNG in text and text.count(PNG) == 1  # once, as an image, never as tool-result text
    if model == "alpha":
        parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
        assert any(p.get("type") == "image_url" and p["image_url"]["url"].startswith("data:image/png;base64,")
                   for p in parts)
    else:
        results = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]
                   if b.get("type") == "tool_result"]
        assert any(isinstance(r["content"], list) and any(c.get("type") == "image" for c in r["content"])
                   for r in results)
    assert not any(isinstance(ev, TurnEvent) and PNG in ev.text for ev in events)


async def test_the_app_shows_thinking_folded_above_the_answer(fake_llm, tmp_path) -> None:
    from test_app import make_app, type_and_send
    from test_app_helpers import idle, screen_text, wait_for

    from tui.ui.reasoning import ReasoningView

    fake_llm.script("alpha", Reply(text="Four.", reasoning="let me add two and two carefully"))
    app = make_app(fake_llm, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "2+2?")
        await idle(pilot, app)
        await wait_for(pilot, lambda: "thinking · ~" in screen_text(app))
        text = screen_text(app)
        assert "Four." in text and "carefully" not in text  # folded until opened
        app.query_one(ReasoningView).collapsed = False
        await wait_for(pilot, lambda: "carefully" in screen_text(app))
    assert app.conversation.path()[-1].reasoning == "let me add two and two carefully"


class SlowTools(ImageTools):
    async def call(self, name: str, arguments: dict[str, object], *, on_progress=None, **_: object) -> ToolResult:
        import asyncio

        for step in (1, 2, 3):
            if on_progress is not None:
                on_progress(step, 3, f"step {step}")
            await asyncio.sleep(0.01)
        return ToolResult("shots", "take", "done")


async def test_a_tools_progress_passes_through_the_stream_before_its_result(fake_llm) -> None:
    from tui.core.events import ToolCallEvent, ToolProgress

    fake_llm.script("alpha", Reply(tool_calls=[("shots__take", {})]), Reply(text="ok"))
    events = await drain(engine(fake_llm, tools=SlowTools()).send("go"))
    progress = [ev for ev in events if isinstance(ev, ToolProgress)]
    assert [(p.progress, p.total, p.message) for p in progress] == [(1, 3, "step 1"), (2, 3, "step 2"),
                                                                   (3, 3, "step 3")]
    call = next(i for i, ev in enumerate(events) if isinstance(ev, ToolCallEvent))
    assert all(events.index(p) < call for p in progress)


def test_a_json_mcp_config_given_as_a_profile_suggests_import_mcp(tmp_path) -> None:
    config = tmp_path / "claude_desktop_config.json"
    config.write_text('{"mcpServers": {"files": {"command": "npx", "args": ["server"]}}}')
    r = baton("ask", "--profile", str(config), "hi", tmp=tmp_path)
    assert r.returncode == 2 and "baton profile import-mcp" in r.stderr and r.stderr.count("\n") == 1
