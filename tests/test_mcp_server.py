"""`baton mcp-server` driven over stdio by the MCP SDK's own client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUTING_PROFILE = ROOT / "profiles" / "routing.toml"


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui", "mcp-server", *args]


@asynccontextmanager
async def connect(tmp_path: Path, *args: str) -> AsyncIterator[Any]:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    command = server_command(*args)
    params = StdioServerParameters(
        command=command[0], args=command[1:], cwd=str(ROOT), env={"BATON_CONFIG_DIR": str(tmp_path)}
    )
    with open(tmp_path / "server.log", "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            yield client


def baton(tmp_path: Path):
    """A client of the server over the routing example profile.

    A context manager inside each test, not a fixture: pytest-asyncio may run a
    fixture's setup and teardown in different tasks, and the SDK's cancel scopes must
    be entered and left in one task.
    """
    return connect(tmp_path, "--profile", str(ROUTING_PROFILE))


async def call(client: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    # The text content carries the same object, for clients that read only text.
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def test_lists_the_five_tools_with_schemas(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"prepare_handoff", "route_to_specialist", "select_optimal_model", "consult", "consensus"}
        handoff = tools["prepare_handoff"]
        assert set(handoff.input_schema["required"]) == {
            "task", "current_context", "target_model", "handoff_instructions"
        }
        assert handoff.output_schema is not None
        assert "metadata" in handoff.output_schema["properties"]
        assert tools["select_optimal_model"].input_schema["required"] == ["task"]
        assert "ok" in tools["select_optimal_model"].output_schema["properties"]
        assert tools["route_to_specialist"].output_schema["properties"]["ready_for_handoff"]["type"] == "boolean"


async def test_select_optimal_model_honours_capabilities(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        choice = await call(
            client,
            "select_optimal_model",
            {"task": "plan my week", "constraints": {"capabilities": ["code"]}},
        )
        assert choice["model"] == "coder"  # the only model of the profile strong at code
        assert set(choice) == {"ok", "model", "task_type", "reason", "candidates"}
        assert choice["ok"] is True
        assert choice["reason"]
        assert "coder" in choice["candidates"]


async def test_select_optimal_model_routes_by_task_and_cost(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        poem = await call(client, "select_optimal_model", {"task": "write a poem about the sea"})
        assert (poem["task_type"], poem["model"]) == ("creative_writing", "author")
        cheap = await call(
            client, "select_optimal_model", {"task": "write a poem about the sea", "constraints": {"max_cost": 0.01}}
        )
        assert cheap["model"] != "author"
        assert "author" in cheap["reason"]  # says what it skipped and why


async def test_select_optimal_model_that_cannot_meet_the_constraints_is_an_error(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        result = await client.call_tool(
            "select_optimal_model",
            {"task": "write a poem about the sea", "constraints": {"max_cost": 0.0000001}},
        )
        assert result.is_error
        refusal = result.structured_content
        assert refusal is not None and refusal["ok"] is False
        assert "no model meets the constraints" in refusal["reason"]
        assert "author" in refusal["reason"]  # says which model it would have chosen and why not
        assert refusal["task_type"] == "creative_writing"
        assert "no model meets the constraints" in result.content[0].text


async def test_server_info_carries_the_package_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    async with baton(tmp_path) as client:
        info = client.server_info
        assert info is not None
        assert (info.name, info.version) == ("baton", version("baton-tui"))
        assert info.version


async def test_prepare_handoff_returns_the_package(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        package = await call(
            client,
            "prepare_handoff",
            {
                "task": "Fix the failing unit test in parser.py",
                "current_context": {"file": "parser.py", "error": "IndexError"},
                "target_model": "coder",
                "handoff_instructions": "Find the off-by-one and fix it",
            },
        )
        assert package["original_task"] == "Fix the failing unit test in parser.py"
        assert package["context"] == {"file": "parser.py", "error": "IndexError"}
        assert package["target_model"] == "coder"
        assert package["target_ref"] == "anthropic/claude-sonnet-4-5"
        assert package["instructions"] == "Find the off-by-one and fix it"
        assert package["timestamp"]
        meta = package["metadata"]
        assert meta["task_type"] == "code_generation"
        assert meta["expected_output_format"] and meta["validation_criteria"]
        assert isinstance(meta["suggested_parameters"], dict)


async def test_prepare_handoff_with_an_unknown_target_is_a_tool_error(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        result = await client.call_tool(
            "prepare_handoff",
            {"task": "t", "current_context": {}, "target_model": "nobody-knows", "handoff_instructions": "i"},
        )
        assert result.is_error
        text = result.content[0].text
        assert "nobody-knows" in text and "coder" in text  # names the models it does know
        # The server is still answering afterwards.
        assert (await call(client, "select_optimal_model", {"task": "hi"}))["model"]


async def test_route_to_specialist_returns_the_routing(tmp_path: Path) -> None:
    async with baton(tmp_path) as client:
        routed = await call(
            client, "route_to_specialist", {"content": "def f(x): return x[1]", "analysis_type": "code_review"}
        )
        assert routed["content"] == "def f(x): return x[1]"
        assert routed["ready_for_handoff"] is True
        routing = routed["routing"]
        assert (routing["task_type"], routing["model"]) == ("code_generation", "coder")
        assert routing["reason"] and routing["candidates"]
        facts = await call(
            client, "route_to_specialist", {"content": "The moon is made of cheese.", "analysis_type": "fact_checking"}
        )
        assert (facts["routing"]["task_type"], facts["routing"]["model"]) == ("research", "analyst")


async def test_default_profile_without_profile_argument(tmp_path: Path) -> None:
    async with connect(tmp_path) as client:
        choice = await call(client, "select_optimal_model", {"task": "refactor this python class"})
        assert choice["model"] == "coder"
        package = await call(
            client,
            "prepare_handoff",
            {"task": "t", "current_context": {}, "target_model": "openai/gpt-4.1", "handoff_instructions": "i"},
        )
        assert package["target_ref"] == "openai/gpt-4.1"


def test_only_protocol_on_stdout() -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    process = subprocess.Popen(
        server_command("--profile", str(ROUTING_PROFILE)),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )
    try:
        process.stdin.write(json.dumps(initialize) + "\n")
        process.stdin.flush()
        first = json.loads(process.stdout.readline())
        process.stdin.write(json.dumps(initialized) + "\n" + json.dumps(listing) + "\n")
        process.stdin.flush()
        second = json.loads(process.stdout.readline())
        process.stdin.close()
        rest = process.stdout.read()  # until the server exits on end of input
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (first["id"], second["id"]) == (1, 2)
    assert len(second["result"]["tools"]) == 5
    assert first["result"]["serverInfo"]["version"]
    assert rest == ""


def test_a_bad_profile_is_one_line_on_stderr(tmp_path: Path) -> None:
    out = subprocess.run(
        server_command("--profile", str(tmp_path / "missing.toml")),
        capture_output=True, text=True, cwd=ROOT, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert "missing.toml" in out.stderr
