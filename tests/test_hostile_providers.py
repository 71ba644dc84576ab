"""Both wire formats against a server that lies, stalls and attacks (tests/hostile_server.py).

Whatever the server does, `Provider.stream` ends in a Done or one ProviderError: one line,
the text streamed so far kept as `partial`, no key, no escape or C1 character.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hostile_server import ANTHROPIC_SHAPES, HELLO, OPENAI_SHAPES, HostileServer

from tui.core.providers import (
    ChatRequest,
    Deadlines,
    Delta,
    Done,
    ProviderConfig,
    ProviderError,
    make_provider,
)
from tui.core.providers import wire as wire_module
from tui.core.types import Message

KEY = "sk-hostile-SECRET-0123456789"
WIRES = ["openai", "anthropic"]
QUICK = Deadlines(connect_s=1.0, first_token_s=0.6, idle_s=0.4, turn_s=5.0)


@pytest.fixture(scope="module")
def server():
    with HostileServer() as s:
        yield s


def provider_for(server: HostileServer, wire: str, key: str | None = KEY, **kw):
    base = server.openai_base if wire == "openai" else server.anthropic_base
    config = ProviderConfig(wire, wire, base, f"{wire.upper()}_API_KEY")  # type: ignore[arg-type]
    return make_provider(config, key, **kw)


async def run(server: HostileServer, wire: str, model: str, deadlines: Deadlines = QUICK, **kw):
    """(the ProviderError or None, the Done or None, the text streamed)."""
    provider = provider_for(server, wire, **kw)
    request = ChatRequest(model=model, messages=(Message("user", "hi"),), deadlines=deadlines)
    seen: list[str] = []
    done = None
    try:
        async for event in provider.stream(request):
            if isinstance(event, Delta):
                seen.append(event.text)
            else:
                assert isinstance(event, Done)
                done = event
    except ProviderError as e:
        return e, None, "".join(seen)
    finally:
        await provider.aclose()
    return None, done, "".join(seen)


def assert_clean(message: str, key: str = KEY) -> None:
    assert "\n" not in message and "\r" not in message
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in message), repr(message)
    assert key not in message
    assert "SECRET" not in message


async def failed(server, wire, model, deadlines=QUICK, **kw) -> ProviderError:
    error, done, seen = await run(server, wire, model, deadlines, **kw)
    assert error is not None, f"{model} should fail, got {done}"
    assert_clean(str(error))
    assert str(error).startswith(f"{wire}")
    assert error.partial == seen
    return error


@pytest.mark.parametrize("wire", WIRES)
async def test_a_well_behaved_answer_still_works(server, wire):
    error, done, seen = await run(server, wire, "ok")
    assert error is None and done is not None
    assert seen == done.text == HELLO + "world"


# -- streams that lie ------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(OPENAI_SHAPES))
async def test_openai_wrong_shaped_chunk(server, shape):
    error = await failed(server, "openai", f"shape:{shape}")
    assert error.partial == HELLO
    if not shape.startswith("error-"):
        assert str(error).startswith("openai: malformed stream chunk: ")
        assert error.retryable


@pytest.mark.parametrize("shape", sorted(ANTHROPIC_SHAPES))
async def test_anthropic_wrong_shaped_event(server, shape):
    error = await failed(server, "anthropic", f"shape:{shape}")
    assert error.partial == HELLO
    if not shape.startswith("error-"):
        assert str(error).startswith("anthropic: malformed stream chunk: ")
        assert error.retryable


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(
    "model, says",
    [
        ("cutjson", "not JSON"),
        ("badbytes", "not UTF-8"),
        ("longline", "line longer than"),
        ("gzipbomb", "inflates past its cap"),
    ],
)
async def test_bytes_that_are_not_a_stream(server, wire, model, says):
    error = await failed(server, wire, model)
    assert says in str(error)
    assert error.partial == HELLO
    assert error.retryable


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("model", ["gzip", "gzip:deflate"])
async def test_an_honest_compressed_stream_is_read(server, wire, model):
    error, done, seen = await run(server, wire, model)
    assert error is None and done is not None
    assert seen == done.text == HELLO + "world"


@pytest.mark.parametrize("wire", WIRES)
async def test_a_corrupt_compressed_stream_is_an_error(server, wire):
    error = await failed(server, wire, "gzip:corrupt")
    assert "compressed stream is corrupt" in str(error)
    assert error.retryable


async def test_a_body_past_the_stream_cap_is_cut(server, monkeypatch):
    monkeypatch.setattr(wire_module, "MAX_STREAM_BYTES", 100)
    error = await failed(server, "openai", "ok")
    assert "longer than 100 bytes" in str(error)


# -- deadlines -------------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
async def test_a_server_that_never_answers_hits_the_first_token_deadline(server, wire):
    error = await failed(server, wire, "hang")
    assert str(error) == f"{wire}: no first token within 0.6s"
    assert error.retryable and error.partial == ""


@pytest.mark.parametrize("wire", WIRES)
async def test_keep_alives_are_not_a_first_token(server, wire):
    # Comments every 50 ms keep the idle deadline (0.4 s) from firing, but not the first-token one.
    error = await failed(server, wire, "slow-first:30")
    assert str(error) == f"{wire}: no first token within 0.6s"
    assert error.retryable and error.partial == ""


@pytest.mark.parametrize("wire", WIRES)
async def test_slow_first_token_within_its_deadline_is_fine(server, wire):
    error, done, _ = await run(server, wire, "slow-first:0.3")
    assert error is None and done is not None and done.text == HELLO


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stream_that_stalls_hits_the_idle_deadline(server, wire):
    error = await failed(server, wire, "stall")
    assert str(error) == f"{wire}: stream stalled: nothing received for 0.4s"
    assert error.retryable and error.partial == HELLO


@pytest.mark.parametrize("wire", WIRES)
async def test_keep_alives_forever_hit_the_turn_deadline(server, wire):
    deadlines = Deadlines(connect_s=1.0, first_token_s=0.5, idle_s=0.4, turn_s=0.9)
    error = await failed(server, wire, "trickle", deadlines)
    assert str(error) == f"{wire}: no complete answer within 0.9s (turn deadline)"
    assert not error.retryable  # the caller's fallbacks take over
    assert error.partial == HELLO


async def test_a_connection_that_is_never_accepted_hits_the_connect_deadline():
    # A listening socket with a full backlog that never accepts: the kernel drops SYNs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        config = ProviderConfig("openai", "openai", f"http://127.0.0.1:{port}/v1", None)
        provider = make_provider(config, None)
        request = ChatRequest("m", (Message("user", "hi"),), deadlines=Deadlines(connect_s=0.3, first_token_s=5, turn_s=5))
        with pytest.raises(ProviderError) as info:
            async for _ in provider.stream(request):
                pass
        await provider.aclose()
        for s in fillers:
            s.close()
    assert str(info.value) == "openai: could not connect within 0.3s"
    assert info.value.retryable


# -- hostile error text and keys -------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("model", ["escape-error:400", "escape-error:500", "escape-raw:502", "escape-stream"])
async def test_escape_sequences_in_errors_are_neutralised(server, wire, model):
    error = await failed(server, wire, model)
    assert "boom" in str(error) and "end" in str(error)
    assert "␛]52;c;" in str(error)  # shown, harmless
    assert "\\x9b" in str(error)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("model", ["echo-key", "echo-key-stream"])
async def test_a_server_that_echoes_the_key_never_gets_it_shown(server, wire, model):
    error = await failed(server, wire, model)
    assert "***" in str(error)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("key", [KEY + "\r\n", KEY + "\nX-Evil: 1", "sk-\u00e9" + KEY, KEY + "\x1b"])
async def test_a_key_httpx_would_refuse_never_appears(server, wire, key):
    error = await failed(server, wire, "ok", key=key)
    assert not error.retryable
    assert "API key" in str(error)
    assert_clean(str(error), key=key.strip())


async def test_httpx_header_errors_are_never_formatted(server, monkeypatch):
    """Even a key that slips past the check: httpx's own error quotes the header."""
    from tui.core.providers import sse

    monkeypatch.setattr(sse, "key_problem", lambda key: False)
    error = await failed(server, "openai", "ok", key=KEY + "\r\n")
    assert "could not be sent" in str(error) or "request failed" in str(error)


async def test_unexpected_exceptions_become_provider_errors(server, monkeypatch):
    from tui.core.providers.openai import OpenAIProvider

    def broken(self, request, stream):
        raise RuntimeError(f"boom with {KEY}")

    monkeypatch.setattr(OpenAIProvider, "body", broken)
    error = await failed(server, "openai", "ok")
    assert str(error) == "openai: request failed (RuntimeError)"


# -- through `baton ask` ----------------------------------------------------------------


def baton_ask(server: HostileServer, model: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "DEDALUS_", "OPENROUTER_"))
    }
    env.update(
        OPENAI_BASE_URL=server.openai_base,
        OPENAI_API_KEY=KEY,
        HOME=str(tmp_path),
        BATON_CONFIG_DIR=str(tmp_path / "config"),
        BATON_DATA_DIR=str(tmp_path / "data"),
    )
    return subprocess.run(
        [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())",
         "ask", "-m", f"openai/{model}", "hi"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


@pytest.mark.parametrize("model", ["escape-error:400", "echo-key", "shape:null-choice", "badbytes"])
def test_baton_ask_fails_in_one_clean_line(server, tmp_path, model):
    done = baton_ask(server, model, tmp_path)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "a failure must say why"
    failure = lines[-1]
    assert "\x1b" not in done.stderr and "\x9b" not in done.stderr and "\x07" not in done.stderr
    assert KEY not in done.stderr + done.stdout and "SECRET" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert_clean(failure)


async def test_the_provider_never_asks_for_encodings_it_cannot_cap(server):
    await run(server, "openai", "ok")
    _, headers, _ = server.requests[-1]
    assert headers["accept-encoding"] == "gzip, deflate"


def test_the_hostile_server_speaks_http(server):
    response = httpx.post(server.openai_base + "/chat/completions", json={"model": "ok"}, timeout=5)
    assert response.status_code == 200 and "Hello" in response.text


@pytest.mark.parametrize("wire", WIRES)
async def test_a_whole_reply_is_bounded_by_the_deadlines_too(server, wire):
    provider = provider_for(server, wire)
    request = ChatRequest("hang", (Message("user", "hi"),), deadlines=QUICK)
    with pytest.raises(ProviderError) as info:
        async for _ in provider.stream(request, stream=False):
            pass
    await provider.aclose()
    assert str(info.value) == f"{wire}: no first token within 0.6s"


def test_requests_have_deadlines_by_default():
    assert ChatRequest("m", ()).deadlines == Deadlines(10.0, 60.0, 60.0, 600.0)


# -- the neutraliser -------------------------------------------------------------------


def test_neutralise_shows_every_control_but_tab_and_newline():
    from tui.core.text import neutralise, one_line

    assert neutralise("a\tb\nc") == "a\tb\nc"
    assert neutralise("\x1b]52;c;eA==\x07") == "␛]52;c;eA==␇"
    assert neutralise("\x00\x7f\x9b\x85 é") == "␀␡\\x9b\\x85 é"
    assert neutralise("a\r\nb\rc") == "a\nb␍c"
    assert one_line("  x \n\t y\x1b[2J ", 300) == "x y␛[2J"
    assert one_line("y" * 10, 5) == "yyyy…"


def test_provider_errors_are_neutralised_however_they_are_made():
    error = ProviderError("bad \x1b[2J\nthing \x9b")
    assert str(error) == "bad ␛[2J thing \\x9b"
