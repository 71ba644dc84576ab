"""What both front ends do: turn a command into a run with the same defaults, and keep
the session file. `baton ask` and the app each drive one Controller."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from .audit import AuditLog
from .commands import Command
from .conversation import Conversation
from .engine import Engine, Sink
from .events import Event, TimelineEvent
from .preview import PreviewConversation, StillLoading
from .profile import Profile, Stage
from .run import Run
from .tools import ToolBox


class Controller:
    def __init__(
        self,
        profile: Profile,
        env: Mapping[str, str],
        conversation: Conversation | None = None,
        *,
        sinks: list[Sink] | None = None,
        tools: ToolBox | None = None,
        blocked: Mapping[str, str] | None = None,
        seed: int | None = None,
    ) -> None:
        if isinstance(conversation, PreviewConversation):
            raise StillLoading  # only shown: nothing runs before the whole file is read and trusted
        self.profile = profile
        self.env = env
        self.engine = Engine(profile, env=env, conversation=conversation, sinks=sinks, tools=tools,
                             blocked=blocked, seed=seed)

    @property
    def conversation(self) -> Conversation:
        return self.engine.conversation

    def known_models(self) -> set[str]:
        return {*self.profile.models, *(m for m in (self.engine.active_model,) if m)}

    # --------------------------------------------------------------- defaults

    def synthesizer(self, models: list[str], given: str | None) -> str | None:
        """The named synthesiser, else the profile's when the round is the profile's."""
        if given:
            return given
        return self.profile.parallel.synthesizer if models == self.profile.parallel.models else None

    def judge(self, given: str | None) -> str | None:
        return given or self.profile.consensus.judge

    def stages(self, models: list[str] | None) -> list[Stage]:
        """The profile's stages (instructions, checks) when they name the same models."""
        profiled = self.profile.pipeline.stages
        if not models or [s.model for s in profiled] == models:
            return profiled
        return [Stage(model=m) for m in models]

    def last_prompt(self) -> str | None:
        return next((m.content for m in reversed(self.conversation.path()) if m.role == "user"), None)

    def check_models(self, *models: str | None) -> None:
        """ModelError for the first that this profile cannot reach."""
        for model in models:
            if model:
                self.engine.check_model(model)

    # ------------------------------------------------------------------ runs

    def start(self, command: Command) -> Run:
        """A run for a command that asks models something; ValueError (one line) if it cannot."""
        if command.name == "handoff":
            return self.engine.handoff(command.model or "", command.text, back="back" in command.extra)
        if command.name in ("parallel", "consensus"):
            prompt = command.text or self.last_prompt()
            if not prompt:
                raise ValueError(f"give a prompt: /{command.name} M1 M2 ... -- PROMPT")
            if command.name == "parallel":
                models = list(command.models) or self.profile.parallel.models
                if not models:
                    raise ValueError("usage: /parallel M1 M2 ... [--synth M] [PROMPT]")
                synth = self.synthesizer(models, command.synth) if command.models else (
                    command.synth or self.profile.parallel.synthesizer)
                self.check_models(*models, synth)
                return self.engine.parallel(prompt, models, synth)
            models = list(command.models) or self.profile.consensus.models
            judge = self.judge(command.judge)
            if not models or not judge:
                raise ValueError("usage: /consensus M1 M2 ... --judge M [PROMPT]")
            self.check_models(*models, judge)
            return self.engine.consensus(prompt, models, judge)
        raise ValueError(f"/{command.name} does not ask a model")

    def send(self, text: str) -> Run:
        return self.engine.send(text)

    def note(self, event: Event) -> None:
        """Something outside any run (an MCP server that did not start) into the stream."""
        self.engine.apply(event)

    async def aclose(self) -> None:
        await self.engine.aclose()


def audit_sink(log: AuditLog) -> Sink:
    """The audit trail as a sink: every timeline event, as it happens."""

    def write(event: Event) -> None:
        if isinstance(event, TimelineEvent):
            log.write(event.to_record())

    return write


def default_session_path(env: Mapping[str, str] | None = None) -> Path:
    """A new file in the sessions folder, named by the time; never one that is there
    already, or taken (two apps, or two /clear, in the same second)."""
    from .env import data_dir

    folder = data_dir(env) / "sessions"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stamp}.toml"
    n = 1
    while path.exists() or path.with_name(path.name + ".lock").exists() or path in _given:
        n += 1
        path = folder / f"{stamp}-{n}.toml"
    _given.add(path)
    return path


_given: set[Path] = set()  # handed out in this process, not yet written


class SessionLock:
    """One app writes a session file at a time: a lock file beside it, held while open."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        """True if this process now holds the lock; False if another one does."""
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except OSError:
            return True  # a read-only place: nothing to guard
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        os.chmod(self.path, 0o600)
        self._file = f
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # the file stays: unlinking it could let two holders in
            self._file = None
