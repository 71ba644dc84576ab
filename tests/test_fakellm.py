"""The fake LLM server itself: concurrency, incremental streaming, scripting, stop."""

from __future__ import annotations

import json
import threading
import time

import httpx
from fakellm import FakeLLM, Reply


def post(fake: FakeLLM, wire: str, body: dict, **kw) -> httpx.Response:
    url = fake.openai_base + "/chat/completions" if wire == "openai" else fake.anthropic_base + "/v1/messages"
    return httpx.post(url, json=body, timeout=10, **kw)


def test_concurrent_requests_run_concurrently(fake_llm):
    fake_llm.script("m", Reply("a", delay=1), Reply("b", delay=1), Reply("c", delay=1))
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    threads = [threading.Thread(target=post, args=(fake_llm, "openai", body)) for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started < 2.5  # one after another would take 3 s


def test_stream_is_incremental(fake_llm):
    fake_llm.script("m", Reply("abcdefgh", chunk_size=4, chunk_delay=0.5))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    started = time.monotonic()
    with httpx.stream("POST", fake_llm.openai_base + "/chat/completions", json=body) as response:
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if '"abcd"' in line:
                first = time.monotonic() - started
        end = time.monotonic() - started
    assert end - first >= 0.4  # the first chunk came before the 0.5 s pause, not with the rest


def test_scripts_are_per_model_and_in_order_then_echo(fake_llm):
    fake_llm.script("a", Reply("one"), Reply("two"))
    body = {"model": "a", "messages": [{"role": "user", "content": "hello there"}]}
    texts = [post(fake_llm, "openai", body).json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert texts == ["one", "two", "echo: hello there"]
    post(fake_llm, "anthropic", {"model": "b", "messages": []})
    assert [r.wire for r in fake_llm.requests_for("a")] == ["openai"] * 3
    assert [r.wire for r in fake_llm.requests_for("b")] == ["anthropic"]


def test_echo_of_tool_results(fake_llm):
    openai = post(fake_llm, "openai", {"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "c", "content": "42"},
    ]}).json()
    anthropic = post(fake_llm, "anthropic", {"model": "m", "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": "42"}]},
    ]}).json()
    assert openai["choices"][0]["message"]["content"] == "tool said: 42"
    assert anthropic["content"] == [{"type": "text", "text": "tool said: 42"}]


def test_default_usage_counts_words(fake_llm):
    body = {"model": "m", "system": "be kind", "messages": [{"role": "user", "content": "one two three"}]}
    usage = post(fake_llm, "anthropic", body).json()["usage"]
    assert usage == {"input_tokens": 5, "output_tokens": len("echo: one two three") // 4}


def test_keys_are_checked_per_wire_format():
    with FakeLLM(keys={"openai": "sk-o"}) as fake:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        assert post(fake, "openai", body).status_code == 401
        assert post(fake, "openai", body, headers={"Authorization": "Bearer sk-o"}).status_code == 200
        assert post(fake, "anthropic", body).status_code == 200
        assert json.loads(post(fake, "openai", body).text)["error"]["message"]


def test_stop_is_quick_while_a_reply_is_waiting():
    fake = FakeLLM().start()
    fake.script("m", Reply("late", delay=30))

    def doomed() -> None:
        try:
            post(fake, "openai", {"model": "m", "messages": []})
        except httpx.HTTPError:
            pass  # the server went away mid-request, as intended

    thread = threading.Thread(target=doomed, daemon=True)
    thread.start()
    while not fake.requests:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1
