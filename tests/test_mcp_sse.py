"""Servers of the older HTTP+SSE transport, reached from their URL, and clear lines when none answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.core.mcp.client import McpTools
from tui.core.profile import McpServerDef

MEDIA = str(Path(__file__).parent / "mcp_servers" / "media_server.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(flag: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, MEDIA, flag, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the media server ({flag}) did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def sse_server() -> Iterator[str]:
    yield from _serve("--sse")


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    yield from _serve("--http")


async def _connect(tmp_path: Path, url: str, **kw) -> tuple[McpTools, list[str]]:
    box = McpTools({"web": McpServerDef(url=url, start_timeout_s=15, **kw)}, {}, log_dir=tmp_path)
    return box, await box.start()


async def test_an_sse_url_falls_back_from_streamable_http(sse_server: str, tmp_path: Path) -> None:
    box, problems = await _connect(tmp_path, f"{sse_server}/sse")
    try:
        assert problems == []
        assert box.status["web"].transport == "sse"
        seen: list[tuple[float, float | None, str | None]] = []
        result = await box.call("web__work", {"steps": 2}, on_progress=lambda *p: seen.append(p))
        image = await box.call("web__picture", {"kb": 4})
    finally:
        await box.aclose()
    assert result.text == "done 2 steps" and len(seen) == 2
    assert image.media[0].size == 4096


async def test_transport_sse_from_the_profile(sse_server: str, tmp_path: Path) -> None:
    box, problems = await _connect(tmp_path, f"{sse_server}/sse", transport="sse")
    try:
        assert problems == []
        assert box.status["web"].transport == "sse"
        assert (await box.call("web__weather", {})).text == '{"city":"Oslo","temp_c":-3}'
    finally:
        await box.aclose()


async def test_transport_http_does_not_fall_back_and_says_why(sse_server: str, tmp_path: Path) -> None:
    box, problems = await _connect(tmp_path, f"{sse_server}/sse", transport="http")
    await box.aclose()
    assert problems == [
        f"mcp server 'web' failed to start: {sse_server}/sse: tried streamable HTTP: POST answered "
        '405 Method Not Allowed (a server of the older transport? transport = "sse" or "auto")'
    ]


async def test_a_url_neither_transport_answers_names_both(sse_server: str, tmp_path: Path) -> None:
    box, problems = await _connect(tmp_path, f"{sse_server}/nothing?token=s3cret")
    await box.aclose()
    assert problems == [
        f"mcp server 'web' failed to start: {sse_server}/nothing: tried streamable HTTP: POST answered "
        "404 Not Found; HTTP+SSE: GET answered 404 Not Found"
    ]
    assert box.status["web"].state == "failed"


async def test_a_streamable_http_server_is_not_tried_as_sse(http_server: str, tmp_path: Path) -> None:
    box, problems = await _connect(tmp_path, f"{http_server}/mcp")
    try:
        assert problems == []
        assert box.status["web"].transport == "http"
        assert (await box.call("web__work", {"steps": 1})).text == "done 1 steps"
    finally:
        await box.aclose()


async def test_transport_sse_against_a_streamable_http_server_says_why(http_server: str, tmp_path: Path) -> None:
    box, problems = await _connect(tmp_path, f"{http_server}/mcp", transport="sse")
    await box.aclose()
    assert len(problems) == 1
    start = f"mcp server 'web' failed to start: {http_server}/mcp: tried HTTP+SSE: GET answered 4"
    assert problems[0].startswith(start)


def test_the_profile_takes_a_transport_for_a_url_only() -> None:
    from tui.core.profile_io import ProfileError, parse_profile

    profile = parse_profile('[mcp_servers.old]\nurl = "http://127.0.0.1:1/sse"\ntransport = "sse"\n')
    assert profile.mcp_servers["old"].transport == "sse"
    with pytest.raises(ProfileError, match=r"mcp_servers\.s\.transport: only applies to a server given by url"):
        parse_profile('[mcp_servers.s]\ncommand = "run"\ntransport = "sse"\n')
    with pytest.raises(ProfileError, match=r"mcp_servers\.s\.transport: expected one of"):
        parse_profile('[mcp_servers.s]\nurl = "http://h"\ntransport = "websocket"\n')
    with pytest.raises(ProfileError, match=r"mcp_servers\.s\.max_media_bytes: must not be negative"):
        parse_profile('[mcp_servers.s]\nurl = "http://h"\nmax_media_bytes = -1\n')
