"""Cost as the provider reports it, and cache tokens priced at their own rates."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fakellm import FakeLLM, Reply

from tui.core.models import ModelSpec, resolve_model
from tui.core.pricing import cost_usd
from tui.core.profile import ModelDef, Profile
from tui.core.providers import ChatRequest, Done, ProviderConfig, make_provider
from tui.core.types import Message, Usage


@pytest.fixture
async def provider_for():
    made = []

    def make(fake: FakeLLM, wire: str):
        base = fake.openai_base if wire == "openai" else fake.anthropic_base
        provider = make_provider(ProviderConfig(wire, wire, base), "sk-test")  # type: ignore[arg-type]
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def done_of(provider, *, stream: bool = True) -> Done:
    events = [e async for e in provider.stream(ChatRequest("m", (Message("user", "hi"),)), stream=stream)]
    assert isinstance(events[-1], Done)
    return events[-1]


def spec(input_price: float | None = 3.0, output_price: float | None = 15.0, **kw) -> ModelSpec:
    provider = ProviderConfig("p", "anthropic", "http://127.0.0.1:1")
    return ModelSpec("m", provider, "m", input_price=input_price, output_price=output_price, **kw)


# -- the provider's own figure ---------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
async def test_usage_cost_is_the_providers_own_figure(fake_llm, provider_for, stream):
    fake_llm.script("m", Reply("ok", usage=(1000, 10), cost=0.00042))
    done = await done_of(provider_for(fake_llm, "openai"), stream=stream)
    assert done.cost_usd == pytest.approx(0.00042)
    # ...and it is what the turn costs, whatever the profile's prices say.
    assert cost_usd(spec(), done.usage, reported=done.cost_usd) == pytest.approx(0.00042)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_litellm_cost_header_on_a_whole_reply(fake_llm, provider_for, wire):
    fake_llm.script("m", Reply("ok", headers={"x-litellm-response-cost": "0.0123"}))
    done = await done_of(provider_for(fake_llm, wire), stream=False)
    assert done.cost_usd == pytest.approx(0.0123)


async def test_the_bodys_cost_wins_over_the_header_and_a_streams_zero_header_says_nothing(fake_llm, provider_for):
    fake_llm.script("m", Reply("ok", cost=0.5, headers={"x-litellm-response-cost": "0.9"}),
                    Reply("ok", headers={"x-litellm-response-cost": "0.0"}))
    provider = provider_for(fake_llm, "openai")
    assert (await done_of(provider)).cost_usd == pytest.approx(0.5)
    assert (await done_of(provider)).cost_usd is None


@pytest.mark.parametrize("bad", ["-1", "nan", "inf", "free", ""])
async def test_a_cost_that_is_not_an_amount_is_unknown(fake_llm, provider_for, bad):
    fake_llm.script("m", Reply("ok", headers={"x-litellm-response-cost": bad}))
    assert (await done_of(provider_for(fake_llm, "openai"), stream=False)).cost_usd is None


async def test_no_reported_cost_is_none_not_zero(fake_llm, provider_for):
    assert (await done_of(provider_for(fake_llm, "openai"))).cost_usd is None


# -- cache tokens ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_cache_reads_are_reported_apart(fake_llm, provider_for, wire, stream):
    fake_llm.script("m", Reply("ok", usage=(10_000, 100), cache_read=8_000))
    done = await done_of(provider_for(fake_llm, wire), stream=stream)
    assert done.usage == Usage(10_000, 100)  # every input token, cached ones included
    assert done.cache_read_tokens == 8_000


@pytest.mark.parametrize("stream", [True, False])
async def test_anthropic_cache_writes_are_reported_apart(fake_llm, provider_for, stream):
    fake_llm.script("m", Reply("ok", usage=(10_000, 100), cache_read=1_000, cache_write=6_000))
    done = await done_of(provider_for(fake_llm, "anthropic"), stream=stream)
    assert (done.usage.input_tokens, done.cache_read_tokens, done.cache_write_tokens) == (10_000, 1_000, 6_000)


def test_cache_tokens_are_priced_at_their_own_rates():
    usage = Usage(10_000, 1_000)
    full = cost_usd(spec(), usage)
    cached = cost_usd(spec(), usage, cache_read=8_000)
    written = cost_usd(spec(), usage, cache_write=8_000)
    assert full == pytest.approx((10_000 * 3 + 1_000 * 15) / 1e6)
    # 2,000 fresh at $3, 8,000 read at $0.30, 8,000 written at $3.75 per million
    assert cached == pytest.approx((2_000 * 3 + 8_000 * 0.3 + 1_000 * 15) / 1e6)
    assert written == pytest.approx((2_000 * 3 + 8_000 * 3.75 + 1_000 * 15) / 1e6)
    assert cached < full < written


def test_profile_cache_prices_are_used_when_given():
    usage = Usage(10_000, 0)
    s = spec(cache_read_price=1.0, cache_write_price=5.0)
    assert cost_usd(s, usage, cache_read=4_000, cache_write=1_000) == pytest.approx(
        (5_000 * 3 + 4_000 * 1.0 + 1_000 * 5.0) / 1e6
    )


def test_the_tables_own_cache_price():
    claude = resolve_model("anthropic/claude-sonnet-4-20250514", Profile(), {})
    usage = Usage(1_000_000, 0)
    assert cost_usd(claude, usage) == pytest.approx(3.0)
    assert cost_usd(claude, usage, cache_read=1_000_000) == pytest.approx(0.3)
    assert cost_usd(claude, usage, cache_write=1_000_000) == pytest.approx(3.75)
    gpt = resolve_model("openai/gpt-4.1", Profile(), {})
    assert cost_usd(gpt, usage, cache_read=1_000_000) == pytest.approx(0.5)  # OpenAI's own: 0.25x


def test_unknown_prices_stay_unknown_even_with_cache_tokens():
    local = resolve_model("ollama/llama3.2", Profile(), {})
    assert cost_usd(local, Usage(100, 100), cache_read=50) is None
    assert cost_usd(spec(None, None), Usage(100, 100)) is None
    assert cost_usd(local, Usage(100, 100), reported=0.0) == 0.0  # the provider's word


def test_the_old_call_still_works():
    assert cost_usd(spec(2.0, 8.0), Usage(1000, 500)) == pytest.approx((1000 * 2 + 500 * 8) / 1e6)


def test_model_spec_reads_reasoning_settings_when_the_profile_has_them():
    p = Profile(models={"deep": ModelDef("openai/o3-mini")})
    assert resolve_model("deep", p, {}).reasoning_effort is None
    p.models["deep"] = SimpleNamespace(  # a ModelDef with the coming fields
        model="anthropic/claude-sonnet-4-5", input_price=None, output_price=None, context_window=None,
        strengths=[], latency_s=None, max_tokens=None, temperature=None,
        reasoning_effort="high", thinking_budget=4096,
    )
    s = resolve_model("deep", p, {})
    assert (s.reasoning_effort, s.thinking_budget) == ("high", 4096)


# -- the table's rates kept on disk ------------------------------------------------------


def test_table_rates_are_kept_on_disk_and_read_back_without_the_table(monkeypatch, isolated_home):
    from tui.core import pricing

    gpt = resolve_model("openai/gpt-4.1", Profile(), {})
    pricing._table_rates.cache_clear()
    first = cost_usd(gpt, Usage(1_000_000, 0))
    kept = json.loads((isolated_home / "data" / "prices.json").read_text())
    assert kept["rates"]["openai/gpt-4.1"][0] == pytest.approx(first)

    def no_table(provider: str, model_id: str) -> None:
        raise AssertionError("the table was read again")

    monkeypatch.setattr(pricing, "_rates_from_table", no_table)
    pricing._table_rates.cache_clear()  # a new process: only the file is left
    assert cost_usd(gpt, Usage(1_000_000, 0)) == pytest.approx(first)
    assert pricing._RatesFile.load().current


def test_unknown_models_are_kept_as_unknown_and_a_stale_file_is_rebuilt(monkeypatch, isolated_home):
    from tui.core import pricing

    unknown = resolve_model("openai/no-such-model-here", Profile(), {})
    pricing._table_rates.cache_clear()
    assert cost_usd(unknown, Usage(100, 100)) is None
    path = isolated_home / "data" / "prices.json"
    assert json.loads(path.read_text())["rates"] == {"openai/no-such-model-here": None}

    # Another table (or another day): what the file says is not trusted.
    path.write_text(json.dumps({"stamp": "old", "rates": {"openai/no-such-model-here": [1.0, 2.0, None, None]}}))
    pricing._table_rates.cache_clear()
    assert not pricing._RatesFile.load().current
    assert cost_usd(unknown, Usage(100, 100)) is None
    path.write_text("{not json")
    pricing._table_rates.cache_clear()
    assert cost_usd(unknown, Usage(100, 100)) is None
    assert json.loads(path.read_text())["stamp"] != "old"
    pricing._table_rates.cache_clear()


def test_a_table_that_cannot_be_read_is_not_kept_as_unknown(monkeypatch, isolated_home):
    import builtins

    from tui.core import pricing

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "genai_prices":
            raise ImportError("broken install")
        return real_import(name, *args, **kwargs)

    gpt = resolve_model("openai/gpt-4.1", Profile(), {})
    pricing._table_rates.cache_clear()
    monkeypatch.setattr(builtins, "__import__", broken)
    assert cost_usd(gpt, Usage(1_000_000, 0)) is None
    monkeypatch.setattr(builtins, "__import__", real_import)
    assert not (isolated_home / "data" / "prices.json").exists()
    pricing._table_rates.cache_clear()
    assert cost_usd(gpt, Usage(1_000_000, 0)) == pytest.approx(2.0)
    pricing._table_rates.cache_clear()


async def test_the_table_is_read_off_the_event_loop_while_the_answer_streams(monkeypatch, isolated_home, fake_llm):
    """Reading genai-prices' table (and writing prices.json) at the end of a turn held every
    key up: once the table's module is imported (the app's context meter imports it after
    the first frame), the turn's rates are read in a thread as it starts."""
    import threading

    import genai_prices  # noqa: F401 - imported already (the app's warm-up does): not imported in a thread

    from tui.core import pricing
    from tui.core.engine import Engine, drain
    from tui.core.events import TurnEvent
    from tui.core.profile import ProviderDef

    read_in: list[threading.Thread] = []

    def table(calc_price, usage_of, provider: str, model_id: str) -> pricing.Rates:
        read_in.append(threading.current_thread())
        return pricing.Rates(2.0, 8.0)

    monkeypatch.setattr(pricing, "_rates_from_table", table)
    pricing._table_rates.cache_clear()
    monkeypatch.setattr(pricing, "_looked_up", set())
    fake_llm.script("gpt-4o", Reply("ok", usage=(1_000_000, 1_000_000)))
    profile = Profile(name="t", default_model="g",
                      providers={"openai": ProviderDef(kind="openai", base_url=fake_llm.openai_base, api_key_env="K")},
                      models={"g": ModelDef("openai/gpt-4o")})
    events = await drain(Engine(profile, env={"K": "sk-test"}).send("hi"))
    pricing._table_rates.cache_clear()
    assert read_in and read_in[0] is not threading.main_thread()
    assert [e.cost_usd for e in events if isinstance(e, TurnEvent)] == [pytest.approx(10.0)]


async def test_the_context_window_is_read_from_the_table_in_a_thread_and_kept(
        monkeypatch, isolated_home, fake_llm, tmp_path):
    """The status line's context meter needs the model's window: reading the table for it
    on the event loop held the first frame's panels (and the first keys) up for a fifth of a
    second on every start. It is read in a thread, then kept in prices.json."""
    import threading

    from test_app_helpers import fake_profile, screen_text, wait_for

    from tui.core import context, pricing
    from tui.ui.app import BatonApp

    read_in: list[threading.Thread] = []
    real = pricing.table_window

    def table_window(provider: str, model_id: str) -> int | None:
        read_in.append(threading.current_thread())
        return 64_000 if model_id == "alpha" else real(provider, model_id)

    monkeypatch.setattr(pricing, "table_window", table_window)
    context._table_window.cache_clear()
    monkeypatch.setattr(context, "_looked_up", set())
    app = BatonApp(fake_profile(fake_llm.openai_base), None, env={}, session_path=tmp_path / "s.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "of 64,000" in screen_text(app))
    context._table_window.cache_clear()
    assert read_in and all(t is not threading.main_thread() for t in read_in)

    monkeypatch.setattr(pricing, "table_window", real)  # and kept on disk: read back without the table
    gpt = resolve_model("openai/gpt-4.1", Profile(), {})
    first = context.window(gpt)
    assert first and first > 100_000
    monkeypatch.setattr(pricing, "_rates_from_table", None)
    context._table_window.cache_clear()

    def no_table(*args, **kwargs):
        raise AssertionError("the table was read again")

    import genai_prices

    monkeypatch.setattr(genai_prices, "calc_price", no_table)
    assert context.window(gpt) == first
    context._table_window.cache_clear()
