"""`baton` in a real terminal: tmux types, capture-pane reads the screen.

This is the whole program as a person runs it (console script, real pty, real stderr
drawing), against the loopback server. tmux must be installed (`.ci/run` installs it);
without it this test fails, it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakellm import Reply

SESSION = "baton-test"


def find_tmux() -> str:
    found = shutil.which("tmux")
    if not found:
        pytest.fail("tmux is not installed: this test needs it (apt-get install tmux; .ci/run installs it)")
    return found


class Terminal:
    def __init__(self, tmux: str, socket: Path) -> None:
        self.tmux = [tmux, "-S", str(socket)]

    def run(self, *args: str) -> str:
        return subprocess.run([*self.tmux, *args], capture_output=True, text=True, timeout=30).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", SESSION)

    def type(self, *keys: str) -> None:
        self.run("send-keys", "-t", SESSION, *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(find_tmux(), tmp_path / "tmux.sock")
    yield term
    term.run("kill-server")


def profile_file(tmp_path: Path, fake_llm, name: str, models: str, providers: str = "") -> Path:
    """A profile on the loopback server: provider `fake` (OpenAI format) plus `providers`,
    and the given `[models.*]` tables."""
    path = tmp_path / "p.toml"
    path.write_text(f"""
name = "{name}"
default_model = "alpha"
[providers.fake]
kind = "openai"
base_url = "{fake_llm.openai_base}"
{providers}
{models}
""")
    return path


def test_baton_in_a_real_terminal(fake_llm, terminal, tmp_path):
    profile = profile_file(tmp_path, fake_llm, "tmux",
                           '[models.alpha]\nmodel = "fake/alpha"\n[models.beta]\nmodel = "fakea/beta"',
                           f'[providers.fakea]\nkind = "anthropic"\nbase_url = "{fake_llm.anthropic_base}"')
    fake_llm.script("alpha", Reply(text="Alpha says [bold]hi[/bold] \x1b[31mplainly\x1b[0m.", chunk_delay=0.01))
    session = tmp_path / "s.toml"
    command = (
        f"cd {tmp_path} && BATON_DATA_DIR={tmp_path / 'data'} "
        f"{sys.executable} -m tui --profile {profile} --session {session}"
    )
    terminal.run("new-session", "-d", "-s", SESSION, "-x", "140", "-y", "40", command)
    # Typed at once, before the app has the terminal in raw mode (the tty turns this
    # Enter into a line feed): the message is still kept and sent.
    terminal.type("hello there", "Enter")
    screen = terminal.wait_for("plainly")
    assert "[bold]hi[/bold]" in screen  # markup from a model is shown, not applied
    assert "Send a message to alpha" not in screen  # the welcome goes once there is a conversation
    assert "answers from now on" not in screen  # nothing changed the model; no notice

    terminal.type("/handoff beta finish the job", "Enter")
    screen = terminal.wait_for("echo: finish the job")
    assert "alpha → beta" in screen  # the timeline line

    terminal.type("one more", "Enter")
    terminal.wait_for("echo: one more")
    assert [r.model for r in fake_llm.requests][-2:] == ["beta", "beta"]

    terminal.type("C-q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and terminal.run("list-sessions"):
        time.sleep(0.1)
    text = session.read_text()
    assert "echo: one more" in text and 'type = "handoff"' in text


def test_steering_a_conversation_in_a_real_terminal_at_80x24(fake_llm, terminal, tmp_path):
    """Issue 11's flows as a person types them: a blind compare with no name on screen
    until the vote, then `baton stats`; /regen with another model, /edit, a round and
    /pick, Up for the last prompt; `baton sessions` and `baton --continue`."""
    import json
    import os

    profile = profile_file(tmp_path, fake_llm, "steer",
                           "\n".join(f'[models.{m}]\nmodel = "fake/{m}"' for m in ("alpha", "beta", "gamma")))
    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    prefix = f"cd {tmp_path} && BATON_DATA_DIR={tmp_path / 'data'} HOME={tmp_path} {sys.executable} -m tui"

    def launch(*args: str) -> None:
        terminal.run("kill-server")
        terminal.run("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", " ".join([prefix, *args]))
        terminal.wait_for("/help")

    def send(text: str) -> None:
        terminal.type(text)
        terminal.type("Enter")

    def quit_app() -> None:
        terminal.type("C-q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and terminal.run("list-sessions"):
            time.sleep(0.1)

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "tui", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, check=True, timeout=60).stdout

    def last_sent(model: str) -> str:
        return json.dumps(fake_llm.requests_for(model)[-1].body["messages"])

    fake_llm.script("beta", Reply(text="an answer in one style"), Reply(text="beta instead"),
                    Reply(text="beta says spaces"))
    fake_llm.script("gamma", Reply(text="an answer in another style"))
    fake_llm.script("alpha", Reply(text="alpha first"), Reply(text="alpha later"), Reply(text="answer edited"),
                    Reply(text="alpha says tabs"), Reply(text="noted"))

    launch("--profile", str(profile))  # a blind compare
    send("/compare beta gamma -- say something")
    screen = terminal.wait_for("/vote A")
    terminal.wait_for("another style")
    screen = terminal.screen()
    assert "beta" not in screen and "gamma" not in screen, screen
    first = "A" if screen.index("one style") < screen.index("another style") else "B"
    send(f"/vote {first}")
    terminal.wait_for("beta over gamma")
    quit_app()
    stats = cli("stats")
    assert any(line.startswith("beta") for line in stats.splitlines())
    assert any(line.startswith("gamma") for line in stats.splitlines())

    time.sleep(1.1)  # a new session file (named by the second)
    launch("--profile", str(profile))
    send("a question")
    terminal.wait_for("alpha first")
    send("/regen beta")
    terminal.wait_for("2/2")
    send("go on")
    terminal.wait_for("alpha later")
    assert "beta instead" in last_sent("alpha") and "alpha first" not in last_sent("alpha")
    send("/edit")
    terminal.wait_for("│ go on")  # in the composer (the chat has it too)
    terminal.type(", sharper")
    terminal.type("Enter")
    terminal.wait_for("answer edited")
    assert "go on, sharper" in last_sent("alpha") and "alpha later" not in last_sent("alpha")
    send("/parallel alpha beta -- tabs or spaces?")
    terminal.wait_for("beta says spaces")
    terminal.wait_for("alpha says tabs")
    send("/pick 2")
    terminal.wait_for("going on with answer 2 (beta)")
    send("why?")
    terminal.wait_for("noted")
    assert "beta says spaces" in last_sent("alpha") and "alpha says tabs" not in last_sent("alpha")
    terminal.type("Up")
    screen = terminal.wait_for("│ why?")
    quit_app()

    sessions = cli("sessions").splitlines()
    assert len(sessions) == 2 and sessions[0].endswith("a question"), sessions
    launch("--profile", str(profile), "--continue")
    terminal.wait_for("noted")


def test_a_live_screen_in_a_real_terminal_at_80x24(fake_llm, terminal, tmp_path):
    """Issue 12 as a person sees it at 80x24: a slow first token names the model and the
    time goes by; the answer gets its figures; the chat is at least 70 columns wide; a
    message sent while an answer streams waits and is answered after it."""
    profile = profile_file(tmp_path, fake_llm, "live",
                           '[models.alpha]\nmodel = "fake/alpha"\ninput_price = 2.0\noutput_price = 8.0')
    wide = "w" * 70
    fake_llm.script("alpha", Reply(text=f"{wide}\n\nat last", delay=2.0, usage=(1000, 500)),
                    Reply(text="streaming " * 150, chunk_delay=0.02), Reply(text="the queued one answered"))
    command = f"cd {tmp_path} && BATON_DATA_DIR={tmp_path / 'data'} HOME={tmp_path} {sys.executable} -m tui " \
              f"--profile {profile}"
    terminal.run("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", command)
    terminal.wait_for("/help")
    terminal.type("take your time", "Enter")
    terminal.wait_for("● alpha · waiting for the first token")  # the model named while nothing arrives
    screen = terminal.wait_for("at last")
    assert wide in screen  # one line of 70 columns
    screen = terminal.wait_for("1,000 in · 500 out")
    assert "$0.0060" in screen
    terminal.type("a long one", "Enter")
    terminal.wait_for("streaming streaming")
    terminal.type("and then this", "Enter")  # while it streams: queued, not a cancel
    terminal.wait_for("the queued one answered", timeout=30)
    assert "cancelled" not in terminal.screen()
    assert [r.body["messages"][-1]["content"] for r in fake_llm.requests_for("alpha")][-1] == "and then this"


def test_a_missing_tmux_fails_instead_of_skipping(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.fail.Exception, match="tmux is not installed"):
        find_tmux()
