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


def test_baton_in_a_real_terminal(fake_llm, terminal, tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text(f"""
name = "tmux"
default_model = "alpha"
[providers.fake]
kind = "openai"
base_url = "{fake_llm.openai_base}"
[providers.fakea]
kind = "anthropic"
base_url = "{fake_llm.anthropic_base}"
[models.alpha]
model = "fake/alpha"
[models.beta]
model = "fakea/beta"
""")
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


def test_a_missing_tmux_fails_instead_of_skipping(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.fail.Exception, match="tmux is not installed"):
        find_tmux()
