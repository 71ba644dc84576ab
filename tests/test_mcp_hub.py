"""`baton mcp-server` as a hub: `consult` and `consensus` over stdio, answered by the
loopback LLM server through a profile's providers and keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fakellm import FakeLLM, Reply
from test_mcp_server import ROOT, server_command


def write_profile(tmp_path: Path, llm: FakeLLM, limits: str = "") -> Path:
    # In the BATON_CONFIG_DIR the server gets: trusted by location, as a person's own profile.
    path = tmp_path / "config" / "hub.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""
name = "hub"
default_model = "alpha"
system_prompt = "You are the profile's assistant."

[providers.fo]
kind = "openai"
base_url = "{llm.openai_base}"
api_key_env = "FO_KEY"

[providers.fa]
kind = "anthropic"
base_url = "{llm.anthropic_base}"
api_key_env = "FA_KEY"

[models.alpha]
model = "fo/alpha"
input_price = 1.0
output_price = 2.0

[models.beta]
model = "fa/beta"

[models.gamma]
model = "fo/gamma"
input_price = 3.0
output_price = 4.0

[routing]
mode = "auto"

[routing.rules]
code_generation = "gamma"

[handoff]
targets = ["beta"]
{limits}
""")
    return path


@asynccontextmanager
async def hub(tmp_path: Path, profile: Path) -> AsyncIterator[Any]:
    """A client of `baton mcp-server --profile PROFILE`, over stdio, in this task."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    command = server_command("--profile", str(profile))
    env = {
        "HOME": str(tmp_path),
        "BATON_CONFIG_DIR": str(tmp_path / "config"),
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "FO_KEY": "sk-fo-0123456789",
        "FA_KEY": "sk-fa-0123456789",
    }
    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(ROOT), env=env)
    with open(tmp_path / "server.log", "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            yield client


async def ok(client: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error_line(client: Any, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error
    text = result.content[0].text
    assert "\n" not in text and "Traceback" not in text
    return text


async def test_consult_returns_the_models_answer_with_usage_and_cost(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="Use a dict.", usage=(100, 20)))
    async with hub(tmp_path, write_profile(tmp_path, fake_llm)) as client:
        # A code question: auto routing would pick gamma, but the caller asked alpha.
        got = await ok(client, "consult", {"model": "alpha", "prompt": "Write a parser for INI files"})
    assert got["answer"] == "Use a dict."
    assert got["model"] == "alpha"
    assert got["usage"] == {"input_tokens": 100, "output_tokens": 20}
    assert got["cost_usd"] == pytest.approx((100 * 1.0 + 20 * 2.0) / 1e6)
    assert got["latency_s"] >= 0
    (request,) = fake_llm.requests_for("alpha")
    assert not request.body.get("tools")  # no transfer_to_beta: the consulted model answers
    assert "You are the profile's assistant." in str(request.body["messages"])


async def test_consult_takes_a_system_prompt_and_reports_an_unknown_price_as_null(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.script("beta", Reply(text="Second opinion.", usage=(7, 3)))
    async with hub(tmp_path, write_profile(tmp_path, fake_llm)) as client:
        got = await ok(client, "consult", {"model": "beta", "prompt": "Is this right?", "system": "Be terse."})
    assert (got["answer"], got["model"]) == ("Second opinion.", "beta")
    assert got["usage"] == {"input_tokens": 7, "output_tokens": 3}
    assert got["cost_usd"] is None  # beta has no price in the profile
    (request,) = fake_llm.requests_for("beta")
    assert request.body["system"] == "Be terse."


async def test_consult_failures_are_one_line_tool_errors(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(status=400, error="bad request: no such thing"))
    async with hub(tmp_path, write_profile(tmp_path, fake_llm)) as client:
        unknown = await error_line(client, "consult", {"model": "nobody-knows", "prompt": "hi"})
        assert "nobody-knows" in unknown and "alpha" in unknown  # names the models it knows
        failed = await error_line(client, "consult", {"model": "alpha", "prompt": "hi"})
        assert "no such thing" in failed
        # The server still answers afterwards.
        assert (await ok(client, "consult", {"model": "gamma", "prompt": "again"}))["model"] == "gamma"


async def test_a_hung_provider_ends_at_the_profiles_turn_timeout(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="too late", delay=60))
    profile = write_profile(tmp_path, fake_llm, "[limits]\nturn_timeout_s = 1\nfirst_token_timeout_s = 30\n")
    async with hub(tmp_path, profile) as client:
        text = await error_line(client, "consult", {"model": "alpha", "prompt": "hello?"})
    assert "too late" not in text
    # The hub's deadline, or the engine's own per-request one when it comes first.
    assert "no answer within 1 s" in text or "timed out" in text


async def test_consensus_returns_ranking_winner_and_labels(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script("alpha", Reply(text="first answer", usage=(10, 5)))
    fake_llm.script("gamma", Reply(text="second answer", usage=(10, 5)))
    fake_llm.script("beta", Reply(text="RANKING: B > A"))
    async with hub(tmp_path, write_profile(tmp_path, fake_llm)) as client:
        got = await ok(client, "consensus", {"models": ["alpha", "gamma"], "judge": "beta", "prompt": "q"})
    assert set(got["labels"]) == {"A", "B"} and set(got["labels"].values()) == {"alpha", "gamma"}
    assert got["ranking"] == [got["labels"]["B"], got["labels"]["A"]]
    assert got["winner"] == got["labels"]["B"]
    assert got["answers"] == {"alpha": "first answer", "gamma": "second answer"}
    assert got["answer"] == got["answers"][got["winner"]]
    assert got["judge"] == "beta" and "RANKING" in got["judge_output"]
    assert got["usage"]["input_tokens"] >= 20
    assert got["cost_usd"] == pytest.approx((10 * 1.0 + 5 * 2.0 + 10 * 3.0 + 5 * 4.0) / 1e6)  # beta unpriced


async def test_consensus_with_an_unknown_model_or_judge_is_a_tool_error(fake_llm: FakeLLM, tmp_path: Path) -> None:
    async with hub(tmp_path, write_profile(tmp_path, fake_llm)) as client:
        member = await error_line(client, "consensus", {"models": ["alpha", "ghost"], "judge": "beta", "prompt": "q"})
        assert "ghost" in member
        judge = await error_line(client, "consensus", {"models": ["alpha"], "judge": "nobody", "prompt": "q"})
        assert "nobody" in judge
        empty = await error_line(client, "consensus", {"models": [], "judge": "beta", "prompt": "q"})
        assert "model" in empty
    assert not fake_llm.requests_for("alpha")  # refused before any model was asked


async def test_lists_five_tools_and_a_version(fake_llm: FakeLLM, tmp_path: Path) -> None:
    from importlib.metadata import version

    async with hub(tmp_path, write_profile(tmp_path, fake_llm)) as client:
        info = client.server_info
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert info.version == version("baton-tui") != ""
    assert set(tools) == {"prepare_handoff", "route_to_specialist", "select_optimal_model", "consult", "consensus"}
    assert set(tools["consult"].input_schema["required"]) == {"model", "prompt"}
    assert {"answer", "model", "usage", "cost_usd", "latency_s"} <= set(tools["consult"].output_schema["properties"])
    assert set(tools["consensus"].input_schema["required"]) == {"models", "judge", "prompt"}
    assert {"ranking", "winner", "answer", "answers", "labels"} <= set(tools["consensus"].output_schema["properties"])
