"""McpTools against real MCP servers: stdio children, an in-process server, streamable HTTP."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fakellm import Reply

from tui.core.mcp.client import McpTools, offered_names
from tui.core.profile import McpServerDef

SERVERS = Path(__file__).parent / "mcp_servers"
ECHO = str(SERVERS / "echo_server.py")
CRASH = str(SERVERS / "crash_server.py")
VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def echo_def(**kw) -> McpServerDef:
    return McpServerDef(command=sys.executable, args=[ECHO], **kw)


def load_echo_module():
    spec = importlib.util.spec_from_file_location("echo_server", ECHO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def tools(tmp_path: Path) -> AsyncIterator[McpTools]:
    box = McpTools(
        {
            "echo.main": echo_def(env={"GREETING": "${SECRET_GREETING}", "PLAIN": "x-$WORD-y"}),
            "crash": McpServerDef(command=sys.executable, args=[CRASH]),
            "search": McpServerDef(slug="dedalus-labs/brave-search-mcp"),
        },
        {"SECRET_GREETING": "hello from .env", "WORD": "mid"},
        log_dir=tmp_path,
    )
    box.start_problems = await box.start()
    try:
        yield box
    finally:
        await box.aclose()


async def test_tools_are_listed_with_valid_prefixed_names(tools: McpTools) -> None:
    names = {spec.name: spec for spec in tools.specs()}
    assert {"echo_main__add", "echo_main__echo", "echo_main__fail", "echo_main__slow"} <= set(names)
    assert all(VALID_NAME.match(name) for name in names)
    add = names["echo_main__add"]
    assert add.description == "[echo.main] Add two integers."
    assert add.parameters["type"] == "object"
    assert set(add.parameters["properties"]) == {"a", "b"}
    assert tools.owner("echo_main__add") == ("echo.main", "add")
    assert tools.owner("add") is None


async def test_call_returns_the_text_result(tools: McpTools) -> None:
    result = await tools.call("echo_main__add", {"a": 2, "b": 3})
    assert (result.text, result.is_error) == ("5", False)
    assert (result.server, result.tool) == ("echo.main", "add")


async def test_a_tool_error_is_an_error_result(tools: McpTools) -> None:
    result = await tools.call("echo_main__fail", {"reason": "disk on fire"})
    assert result.is_error
    assert "disk on fire" in result.text


async def test_bad_arguments_and_unknown_tools_are_error_results(tools: McpTools) -> None:
    assert (await tools.call("echo_main__add", {"a": "many", "b": 1})).is_error
    unknown = await tools.call("echo_main__nope", {})
    assert unknown.is_error and "unknown tool" in unknown.text


async def test_crash_is_reported_and_the_others_still_work(tools: McpTools) -> None:
    assert len(tools.start_problems) == 1
    problem = tools.start_problems[0]
    assert problem.startswith("mcp server 'crash' failed to start: ")
    assert "\n" not in problem
    assert "missing configuration" in problem  # its last stderr line, from the log file
    status = tools.status
    assert status["crash"].state == "failed" and status["crash"].error
    assert status["echo.main"].state == "connected"
    assert "add" in status["echo.main"].tools
    assert not any(spec.name.startswith("crash") for spec in tools.specs())
    assert (await tools.call("echo_main__echo", {"text": "still here"})).text == "still here"


async def test_hosted_servers_are_passed_through_not_connected(tools: McpTools) -> None:
    assert tools.hosted_slugs() == ["dedalus-labs/brave-search-mcp"]
    assert tools.status["search"].transport == "hosted"
    assert tools.status["search"].state == "hosted"


async def test_child_env_is_minimal_plus_the_profile_table(tools: McpTools, monkeypatch) -> None:
    greeting = await tools.call("echo_main__env", {"name": "GREETING"})
    assert greeting.text == "hello from .env"
    assert (await tools.call("echo_main__env", {"name": "PLAIN"})).text == "x-mid-y"
    # Keys the McpTools env holds are not inherited unless the profile names them.
    assert (await tools.call("echo_main__env", {"name": "SECRET_GREETING"})).text == ""


async def test_server_stderr_goes_to_its_log_file(tools: McpTools, tmp_path: Path) -> None:
    assert "echo server starting" in (tmp_path / "echo_main.log").read_text()


async def test_a_missing_variable_fails_that_server(tmp_path: Path) -> None:
    box = McpTools({"k": echo_def(env={"TOKEN": "${NOT_SET_ANYWHERE}"})}, {}, log_dir=tmp_path)
    try:
        problems = await box.start()
    finally:
        await box.aclose()
    assert problems == ["mcp server 'k' failed to start: environment variable NOT_SET_ANYWHERE is not set"]


async def test_a_missing_command_fails_that_server(tmp_path: Path) -> None:
    box = McpTools({"gone": McpServerDef(command="/no/such/mcp-server")}, {}, log_dir=tmp_path)
    try:
        problems = await box.start()
    finally:
        await box.aclose()
    assert len(problems) == 1 and "/no/such/mcp-server" in problems[0]
    assert box.status["gone"].state == "failed"


async def test_approval_is_denied_without_a_callback(tmp_path: Path) -> None:
    box = McpTools({"guarded": echo_def(approve=True)}, {}, log_dir=tmp_path)
    try:
        assert await box.start() == []
        result = await box.call("guarded__add", {"a": 1, "b": 1})
    finally:
        await box.aclose()
    assert result.is_error and result.text.startswith("denied")


async def test_session_approval_asks_once(tmp_path: Path) -> None:
    asked: list[tuple[str, str, dict]] = []

    async def approve(server: str, tool: str, args: dict) -> str:
        asked.append((server, tool, args))
        return "session"

    box = McpTools({"guarded": echo_def(approve=True)}, {}, log_dir=tmp_path, approve=approve)
    try:
        await box.start()
        first = await box.call("guarded__add", {"a": 1, "b": 2})
        second = await box.call("guarded__add", {"a": 3, "b": 4})
    finally:
        await box.aclose()
    assert (first.text, second.text) == ("3", "7")
    assert asked == [("guarded", "add", {"a": 1, "b": 2})]


async def test_once_asks_every_time_and_deny_is_an_error(tmp_path: Path) -> None:
    answers = iter(["once", "deny", "once"])
    asked = 0

    async def approve(server: str, tool: str, args: dict) -> str:
        nonlocal asked
        asked += 1
        return next(answers)

    box = McpTools({"guarded": echo_def(approve=True)}, {}, log_dir=tmp_path, approve=approve)
    try:
        await box.start()
        results = [await box.call("guarded__echo", {"text": "hi"}) for _ in range(3)]
    finally:
        await box.aclose()
    assert asked == 3
    assert [r.is_error for r in results] == [False, True, False]
    assert results[1].text == "denied by the user"


async def test_a_slow_call_times_out(tmp_path: Path) -> None:
    # Start-up has its own generous bound, so a slow machine cannot turn this into a
    # failed start; only the call's bound is short, against a call that never ends.
    box = McpTools({"lazy": echo_def(timeout_s=0.5, start_timeout_s=120)}, {}, log_dir=tmp_path)
    try:
        assert await box.start() == []
        result = await box.call("lazy__slow", {"seconds": 3600})
        after = await box.call("lazy__add", {"a": 1, "b": 1})
    finally:
        await box.aclose()
    assert result.is_error and result.text == "lazy/slow timed out after 0.5s"
    assert after.text == "2"  # the server is still usable after a timed-out call


async def test_cancelling_a_call_propagates(tools: McpTools) -> None:
    task = asyncio.create_task(tools.call("echo_main__slow", {"seconds": 3600}))
    await asyncio.sleep(0.2)  # let the call reach the server
    task.cancel()
    async with asyncio.timeout(30):  # a guard against a hang, not a measurement
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (await tools.call("echo_main__add", {"a": 1, "b": 1})).text == "2"


async def test_a_server_that_dies_is_marked_failed_and_reported_once(tools: McpTools) -> None:
    died = await tools.call("echo_main__exit_now", {})
    assert died.is_error and died.text.startswith("mcp server 'echo.main' stopped")
    assert tools.status["echo.main"].state == "failed"
    assert tools.problems() == [died.text]
    again = await tools.call("echo_main__add", {"a": 1, "b": 1})
    assert again.is_error and "is not running" in again.text
    assert tools.problems() == []
    assert tools.specs() == []
    assert tools.owner("echo_main__add") == ("echo.main", "add")


async def test_calls_run_concurrently(tmp_path: Path) -> None:
    # Each call waits until all three have arrived: calls sent one at a time would
    # never meet, and the first would time out instead.
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("meet")
    arrived: list[int] = []
    everyone = asyncio.Event()

    @server.tool()
    async def meet(n: int) -> str:
        """Wait for the others."""
        arrived.append(n)
        if len(arrived) == 3:
            everyone.set()
        await everyone.wait()
        return f"met {n}"

    box = McpTools({}, {}, log_dir=tmp_path)
    try:
        assert await box.add_in_process("meet", server, timeout_s=60) is None
        results = await asyncio.gather(*(box.call("meet__meet", {"n": n}) for n in range(3)))
    finally:
        await box.aclose()
    assert [r.text for r in results] == ["met 0", "met 1", "met 2"]


async def test_a_server_that_never_answers_times_out_at_start(tmp_path: Path) -> None:
    # The start-up bound applies, not the (long) bound on each call.
    mute = McpServerDef(
        command=sys.executable, args=["-c", "import time; time.sleep(60)"], timeout_s=600, start_timeout_s=0.5
    )
    box = McpTools({"mute": mute}, {}, log_dir=tmp_path)
    try:
        problems = await box.start()
    finally:
        await box.aclose()
    assert problems == ["mcp server 'mute' failed to start: no answer within 0.5s"]


async def test_server_logs_are_private(tmp_path: Path) -> None:
    logs = tmp_path / "data" / "mcp-logs"
    box = McpTools({"echo": echo_def()}, {}, log_dir=logs)
    try:
        assert await box.start() == []
    finally:
        await box.aclose()
    assert (logs.stat().st_mode & 0o777, (logs / "echo.log").stat().st_mode & 0o777) == (0o700, 0o600)
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


async def test_an_existing_open_log_file_is_tightened(tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    log.write_text("old line\n")
    log.chmod(0o644)
    box = McpTools({"echo": echo_def()}, {}, log_dir=tmp_path)
    try:
        assert await box.start() == []
    finally:
        await box.aclose()
    assert log.stat().st_mode & 0o777 == 0o600
    assert log.read_text().startswith("old line\n")


async def test_in_process_server(tmp_path: Path) -> None:
    box = McpTools({}, {}, log_dir=tmp_path)
    try:
        assert await box.add_in_process("inproc", load_echo_module().build()) is None
        assert box.status["inproc"].state == "connected"
        assert (await box.call("inproc__add", {"a": 20, "b": 22})).text == "42"
        failed = await box.call("inproc__fail", {"reason": "nope"})
        assert failed.is_error and "nope" in failed.text
    finally:
        await box.aclose()
    assert box.status["inproc"].state == "stopped"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_echo() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, ECHO, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the HTTP echo server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_streamable_http_server(http_echo: str, tmp_path: Path) -> None:
    box = McpTools(
        {"web": McpServerDef(url=http_echo, headers={"Authorization": "Bearer ${TOKEN}"})},
        {"TOKEN": "t0k"},
        log_dir=tmp_path,
    )
    try:
        assert await box.start() == []
        assert box.status["web"].transport == "http"
        assert (await box.call("web__add", {"a": 2, "b": 3})).text == "5"
        assert (await box.call("web__echo", {"text": "over http"})).text == "over http"
    finally:
        await box.aclose()


async def test_an_unreachable_url_fails_that_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/mcp"
    box = McpTools({"web": McpServerDef(url=url, timeout_s=5)}, {}, log_dir=tmp_path)
    try:
        problems = await box.start()
    finally:
        await box.aclose()
    assert len(problems) == 1 and problems[0].startswith("mcp server 'web' failed to start: ")


def test_offered_names_are_valid_unique_and_map_back() -> None:
    pairs = [
        ("a.b", "run"),
        ("a_b", "run"),  # sanitises to the same name as the one above
        ("files", "read file"),
        ("s" * 40, "t" * 40),  # too long
        ("s" * 40, "t" * 39 + "u"),  # same after truncation
        ("ok", "tool"),
    ]
    names = offered_names(pairs)
    assert len(names) == len(pairs)
    assert all(VALID_NAME.match(name) for name in names)
    assert sorted(names.values()) == sorted(pairs)
    assert names["ok__tool"] == ("ok", "tool")
    assert names["files__read_file"] == ("files", "read file")
    assert "a_b__run" not in names  # a shared name goes to neither
    assert offered_names(list(reversed(pairs))) == names  # stable whatever the order


def test_importing_the_client_does_not_import_mcp() -> None:
    code = "import sys, tui.core.mcp.client; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_the_engine_runs_a_real_mcp_tool(fake_llm, tmp_path: Path, wire: str) -> None:
    from tui.core.engine import Engine
    from tui.core.events import RunFinished, ToolCallEvent
    from tui.core.profile import ModelDef, Profile, ProviderDef

    profile = Profile(
        name="mcp",
        default_model="m",
        providers={"fake": ProviderDef(kind=wire, base_url=getattr(fake_llm, f"{wire}_base"), api_key_env="K")},
        models={"m": ModelDef("fake/m")},
    )
    fake_llm.script("m", Reply(tool_calls=[("echo_main__add", {"a": 2, "b": 3})]))
    box = McpTools({"echo.main": echo_def()}, {}, log_dir=tmp_path)
    try:
        assert await box.start() == []
        engine = Engine(profile, env={"K": "key"}, tools=box, backoff_s=0.01)
        events = [event async for event in engine.send("what is 2 + 3?")]
    finally:
        await box.aclose()
    (call,) = [e for e in events if isinstance(e, ToolCallEvent)]
    assert (call.server, call.tool, call.result, call.error) == ("echo.main", "add", "5", None)
    assert isinstance(events[-1], RunFinished) and events[-1].final_output == "tool said: 5"
    offered = json.dumps(fake_llm.requests_for("m")[0].body["tools"])
    assert "echo_main__add" in offered and "[echo.main] Add two integers." in offered


async def test_a_server_dying_mid_chat_is_a_notice_and_the_chat_goes_on(fake_llm, tmp_path: Path) -> None:
    from tui.core.engine import Engine
    from tui.core.events import NoticeEvent, RunFinished, ToolCallEvent
    from tui.core.profile import ModelDef, Profile, ProviderDef

    profile = Profile(
        default_model="m",
        providers={"fake": ProviderDef(kind="openai", base_url=fake_llm.openai_base)},
        models={"m": ModelDef("fake/m")},
    )
    fake_llm.script("m", Reply(tool_calls=[("echo_main__exit_now", {})]), Reply(text="sorry, the tool died"))
    box = McpTools({"echo.main": echo_def()}, {}, log_dir=tmp_path)
    try:
        assert await box.start() == []
        engine = Engine(profile, env={}, tools=box)
        events = [event async for event in engine.send("use the tool")]
        after = [event async for event in engine.send("still there?")]
    finally:
        await box.aclose()
    (call,) = [e for e in events if isinstance(e, ToolCallEvent)]
    assert call.error and "stopped" in call.error
    notices = [e for e in events if isinstance(e, NoticeEvent)]
    assert len(notices) == 1 and "echo.main" in notices[0].message
    assert isinstance(events[-1], RunFinished) and events[-1].final_output == "sorry, the tool died"
    assert isinstance(after[-1], RunFinished)
    assert "echo_main__exit_now" not in json.dumps(fake_llm.requests_for("m")[-1].body.get("tools", []))
