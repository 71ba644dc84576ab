"""One retry budget: the provider never retries on its own, the engine retries once per
failure, and a 429 waits as long as the server's headers say."""

from __future__ import annotations

import time

import pytest
from fakellm import Reply

from tui.core.engine import Engine, drain
from tui.core.events import RetryEvent, RunFinished
from tui.core.profile import ModelDef, Profile, ProviderDef
from tui.core.providers import ChatRequest, ProviderConfig, ProviderError, make_provider
from tui.core.providers.ratelimit import reset_after, retry_after
from tui.core.types import Message


def profile(base: str) -> Profile:
    return Profile(
        name="proxy",
        default_model="alpha",
        providers={"proxy": ProviderDef(kind="openai", base_url=base, api_key_env="PROXY_KEY")},
        models={"alpha": ModelDef("proxy/alpha")},
    )


async def test_a_429_then_success_is_exactly_two_requests(fake_llm):
    fake_llm.script("alpha", Reply(status=429, error="rate limited",
                                   headers={"x-ratelimit-remaining-requests": "0",
                                            "x-ratelimit-reset-requests": "20ms",
                                            "x-ratelimit-remaining-tokens": "5000",
                                            "x-ratelimit-reset-tokens": "6m0s"}),
                    Reply(text="through"))
    engine = Engine(profile(fake_llm.openai_base), env={"PROXY_KEY": "sk-x"}, backoff_s=5.0)
    events = await drain(engine.send("hi"))
    assert isinstance(events[-1], RunFinished) and events[-1].final_output == "through"
    assert len(fake_llm.requests) == 2
    retry = next(e for e in events if isinstance(e, RetryEvent))
    # The exhausted limit (requests) says when to come back, not the backoff of 5 s.
    assert retry.delay_s == pytest.approx(0.02)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_the_provider_itself_never_retries(fake_llm, wire):
    fake_llm.script("m", Reply(status=503, error="busy"), Reply(text="second"))
    base = fake_llm.openai_base if wire == "openai" else fake_llm.anthropic_base
    provider = make_provider(ProviderConfig(wire, wire, base), "sk-x")  # type: ignore[arg-type]
    try:
        with pytest.raises(ProviderError) as info:
            async for _ in provider.stream(ChatRequest("m", (Message("user", "hi"),))):
                pass
    finally:
        await provider.aclose()
    assert info.value.retryable and len(fake_llm.requests) == 1


async def test_the_owned_client_has_no_transport_retries(fake_llm):
    provider = make_provider(ProviderConfig("p", "openai", fake_llm.openai_base), None)
    try:
        pool = provider._client._transport._pool  # type: ignore[attr-defined]
        assert pool._retries == 0
    finally:
        await provider.aclose()


def test_retry_after_headers_come_first():
    assert retry_after({"retry-after": "3", "x-ratelimit-reset-requests": "9s"}, 429) == 3.0
    assert retry_after({"retry-after-ms": "250"}, 429) == 0.25
    assert retry_after({"x-ratelimit-reset-requests": "9s"}, 503) is None  # resets speak for 429s only


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"x-ratelimit-reset-requests": "1s"}, 1.0),
        ({"x-ratelimit-reset-tokens": "1m30.5s"}, 90.5),
        ({"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "6m0s"}, 2.0),  # none says which
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-requests": "2s",
          "x-ratelimit-reset-tokens": "6m0s"}, 360.0),
        ({"x-ratelimit-reset": "12"}, 12.0),
        ({"x-ratelimit-reset-requests": "soon"}, None),
        ({}, None),
    ],
)
def test_reset_headers(headers, seconds):
    got = reset_after(headers)
    assert got == (None if seconds is None else pytest.approx(seconds))


def test_anthropic_and_unix_time_resets():
    later = time.time() + 30
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(later))
    got = reset_after({"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": stamp})
    assert got is not None and 25 <= got <= 31
    got = reset_after({"x-ratelimit-reset": str(int(later))})
    assert got is not None and 25 <= got <= 31
