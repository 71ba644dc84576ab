"""Every fault of a misbehaving provider, through `baton ask` with the profile's [limits]
and through the app: one clear line or a fallback, the partial kept, no key, no escape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_server import HELLO, HostileServer
from test_app import type_and_send
from test_app_helpers import screen_text, wait_for

from tui.core.engine import Engine, drain
from tui.core.events import ParallelEvent, RunFinished, TurnEvent
from tui.core.profile import Limits, ModelDef, Profile, ProviderDef
from tui.core.session import load_session
from tui.ui.app import BatonApp
from tui.ui.chat import AnswerView

KEY = "sk-hostile-SECRET-0123456789"
LIMITS = """
[limits]
connect_timeout_s = 2
first_token_timeout_s = 1
idle_timeout_s = 0.5
turn_timeout_s = 3
"""
FAULTS = ["hang", "stall", "trickle", "shape:null-choice", "cutjson", "badbytes", "longline", "gzipbomb",
          "escape-error:500", "echo-key"]


@pytest.fixture(scope="module")
def server():
    with HostileServer() as s:
        yield s


def profile_file(tmp_path: Path, server: HostileServer, model: str, fallback: bool) -> Path:
    path = tmp_path / "config" / "hostile.toml"  # the person's own profile: trusted by where it is
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""
name = "hostile"
default_model = "bad"
[providers.h]
kind = "openai"
base_url = "{server.openai_base}"
api_key_env = "H_KEY"
[models.bad]
model = "h/{model}"
[models.good]
model = "h/ok"
{'[fallbacks]' + chr(10) + 'bad = ["good"]' if fallback else ''}
{LIMITS}
""")
    return path


def ask(tmp_path: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "H_KEY": KEY,
           "BATON_CONFIG_DIR": str(tmp_path / "config"), "BATON_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "tui", "ask", "--profile", str(profile), "--json", "hi"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def assert_clean(text: str) -> None:
    assert KEY not in text and "SECRET" not in text
    assert not any(c in text for c in "\x1b\x9b\x07"), repr(text)
    assert "Traceback" not in text


@pytest.mark.parametrize("fault", FAULTS)
def test_baton_ask_without_a_fallback_fails_in_one_line_within_the_limits(server, tmp_path, fault):
    done = ask(tmp_path, profile_file(tmp_path, server, fault, fallback=False))
    assert done.returncode == 1
    assert_clean(done.stderr + done.stdout)
    assert done.stderr.splitlines()[-1].startswith("baton ask: ")


@pytest.mark.parametrize("fault", FAULTS)
def test_baton_ask_falls_back_and_keeps_the_partial(server, tmp_path, fault):
    import json

    done = ask(tmp_path, profile_file(tmp_path, server, fault, fallback=True))
    assert done.returncode == 0, done.stderr
    assert_clean(done.stderr + done.stdout)
    result = json.loads(done.stdout)
    assert result["model"] == "good"
    fallbacks = [e for e in result["events"] if e["type"] == "fallback"]
    assert fallbacks and fallbacks[0]["from"] == "bad" and fallbacks[0]["to"] == "good"
    partials = [e for e in result["events"] if e["type"] == "turn" and e["partial"]]
    if fault in ("stall", "shape:null-choice", "cutjson", "badbytes", "longline"):  # text came before the fault
        assert partials and partials[0]["text"].startswith(HELLO.strip())


def engine(server: HostileServer, **models: str) -> Engine:
    profile = Profile(
        name="h", default_model="good",
        providers={"h": ProviderDef(kind="openai", base_url=server.openai_base, api_key_env="H_KEY")},
        models={name: ModelDef(f"h/{wire}") for name, wire in models.items()},
        limits=Limits(connect_timeout_s=2, first_token_timeout_s=1, idle_timeout_s=0.5, turn_timeout_s=3),
    )
    return Engine(profile, env={"H_KEY": KEY}, max_retries=0)


async def test_a_round_goes_on_without_a_member_that_hangs_and_names_it(server) -> None:
    e = engine(server, good="ok", hung="hang", stalled="stall")
    events = await drain(e.parallel("q", ["good", "hung", "stalled"]))
    assert isinstance(events[-1], RunFinished)
    outcome = next(ev for ev in events if isinstance(ev, ParallelEvent))
    assert set(outcome.errors) == {"hung", "stalled"} and "first token" in outcome.errors["hung"]
    assert list(outcome.answers) == ["good"]
    cut = [ev for ev in events if isinstance(ev, TurnEvent) and ev.partial]
    assert cut and cut[0].model == "stalled" and cut[0].text == HELLO


async def test_the_app_shows_one_line_for_a_stalled_stream_and_keeps_the_partial(server, tmp_path) -> None:
    profile = engine(server, good="stall").profile
    app = BatonApp(profile, env={"H_KEY": KEY}, session_path=tmp_path / "s.toml")
    async with app.run_test(size=(120, 30)) as pilot:
        await type_and_send(pilot, "hi")
        await wait_for(pilot, lambda: "✗" in screen_text(app), timeout=20)
        text = screen_text(app)
        assert "stalled" in text and HELLO.strip() in text
        assert_clean(text)
    _, saved = load_session(tmp_path / "s.toml")
    assert any(m.partial and m.content == HELLO for m in saved)
    assert_clean((tmp_path / "s.toml").read_text())


async def test_escape_ends_a_wait_for_a_server_that_never_answers(server, tmp_path) -> None:
    profile = engine(server, good="hang").profile
    profile.limits = Limits(first_token_timeout_s=60, turn_timeout_s=600)  # only Escape can end it
    app = BatonApp(profile, env={"H_KEY": KEY}, session_path=tmp_path / "s.toml")
    async with app.run_test(size=(120, 30)) as pilot:
        await type_and_send(pilot, "hi")
        await wait_for(pilot, lambda: bool(app.query(AnswerView)))  # the request is out, no answer comes
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in screen_text(app), timeout=3)



@pytest.mark.parametrize("fault", FAULTS)
async def test_the_app_falls_back_from_every_fault_in_one_line_keeping_the_partial(server, tmp_path, fault) -> None:
    """The same faults as `baton ask` above, typed into the app: one fallback line, the
    good model's answer, the partial kept on screen and on disk, within the [limits],
    and neither the key nor an escape sequence anywhere on screen or in the file."""
    import time

    profile = engine(server, bad=fault, good="ok").profile
    profile.default_model = "bad"
    profile.fallbacks = {"bad": ["good"]}
    app = BatonApp(profile, env={"H_KEY": KEY}, session_path=tmp_path / "s.toml")
    async with app.run_test(size=(120, 30)) as pilot:
        started = time.monotonic()
        await type_and_send(pilot, "hi")
        await wait_for(pilot, lambda: "Hello world" in screen_text(app), timeout=20)
        took = time.monotonic() - started
        text = screen_text(app)
        assert_clean(text)
        assert text.count("↯ fallback bad → good") == 1, text
    assert took < 3 + 5  # the turn deadline (3 s), and room for a loaded machine
    _, saved = load_session(tmp_path / "s.toml")
    assert saved.messages[-1].model == "good" and saved.messages[-1].content == "Hello world"
    if fault in ("stall", "shape:null-choice", "cutjson", "badbytes", "longline"):  # text came before the fault
        assert any(m.partial and m.model == "bad" and m.content.startswith(HELLO.strip()) for m in saved)
    assert_clean((tmp_path / "s.toml").read_text())


def test_ctrl_c_ends_baton_ask_waiting_on_a_server_that_never_answers(server, tmp_path) -> None:
    """Ctrl+C (SIGINT) while `baton ask` waits on a hung provider: it exits at once with
    status 130, quietly (no traceback), long before the profile's deadlines."""
    import signal
    import time

    profile = profile_file(tmp_path, server, "hang", fallback=False)
    profile.write_text(profile.read_text().replace("first_token_timeout_s = 1", "first_token_timeout_s = 60")
                       .replace("turn_timeout_s = 3", "turn_timeout_s = 600"))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "H_KEY": KEY,
           "BATON_CONFIG_DIR": str(tmp_path / "config"), "BATON_DATA_DIR": str(tmp_path / "data")}
    seen = len(server.requests)
    child = subprocess.Popen([sys.executable, "-m", "tui", "ask", "--profile", str(profile), "hi"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while len(server.requests) == seen:  # the request is out: the wait has begun
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        child.kill()
    assert child.returncode == 130
    assert took < 2  # "within a second"; room for a loaded machine
    assert_clean(out + err)
