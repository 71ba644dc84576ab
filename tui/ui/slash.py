"""Slash commands and the command palette's entries, as a part of the app.

Each `/command` is parsed in commands.py and run here against the engine; the palette
offers the same commands (commands.BatonCommands asks `palette_entries`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .chat import ChatPane

if TYPE_CHECKING:
    from .commands import Command, PaletteEntry
    from .composer import Composer


class SlashCommands:
    """Mixed into BatonApp: what each slash command does."""

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        text = event.text
        if text.startswith("/"):
            from .commands import CommandError, parse_command  # first use, off the start-up path

            try:
                command = parse_command(text, self._known_models())
            except CommandError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            await self.run_command(command)
            return
        await self.query_one(ChatPane).add_user(text)
        self.play(self.engine.send(text))

    def _known_models(self) -> set[str]:
        return {*self.profile.models, *(m for m in (self.active_model,) if m)}

    async def run_command(self, command: Command) -> None:
        handler = getattr(self, f"_command_{command.name}")
        try:
            await handler(command)
        except (ValueError, OSError) as error:  # ModelError and bad arguments are one line
            self.notify(str(error), severity="error", markup=False)
        except Exception as error:  # ProfileError, SessionError: one line too; nothing crashes
            from tui.core.profile_io import FileFormatError

            message = str(error) if isinstance(error, FileFormatError) else f"{type(error).__name__}: {error}"
            self.notify(message, severity="error", markup=False)

    async def _command_model(self, command: Command) -> None:
        self.engine.set_model(command.model or "")
        self.refresh_routing()
        self.notify(f"{command.model} answers from now on", markup=False)

    async def _command_handoff(self, command: Command) -> None:
        self.play(self.engine.handoff(command.model or "", command.text))

    async def _command_route(self, command: Command) -> None:
        self.engine.set_mode(command.mode or "manual")
        self.refresh_routing()
        self.notify(f"routing: {command.mode}", markup=False)

    def _round_prompt(self, command: Command) -> str:
        if command.text:
            return command.text
        last = next((m.content for m in reversed(self.conversation.messages) if m.role == "user"), None)
        if last is None:
            raise ValueError(f"give a prompt: /{command.name} M1 M2 ... -- PROMPT")
        return last

    async def _command_parallel(self, command: Command) -> None:
        models = list(command.models) or self.profile.parallel.models
        if not models:
            raise ValueError("usage: /parallel M1 M2 ... [--synth M] [PROMPT]")
        prompt = self._round_prompt(command)
        await self.query_one(ChatPane).add_user(prompt)
        self.play(self.engine.parallel(prompt, models, command.synth or self.profile.parallel.synthesizer), "parallel")

    async def _command_consensus(self, command: Command) -> None:
        models = list(command.models) or self.profile.consensus.models
        judge = command.judge or self.profile.consensus.judge
        if not models or not judge:
            raise ValueError("usage: /consensus M1 M2 ... --judge M [PROMPT]")
        prompt = self._round_prompt(command)
        await self.query_one(ChatPane).add_user(prompt)
        self.play(self.engine.consensus(prompt, models, judge), "consensus")

    async def _command_save(self, command: Command) -> None:
        path = Path(command.path).expanduser() if command.path else self.session_path
        if path is None:
            raise ValueError("usage: /save PATH (this session has no file yet)")
        await self.save_session(path)
        self.session_path = path
        self.notify(f"session saved to {path}", markup=False)

    async def _command_load(self, command: Command) -> None:
        from tui.core.session import load_session

        path = Path(command.path or "").expanduser()
        profile, conversation = await asyncio.to_thread(load_session, path)
        self.workers.cancel_group(self, "run")
        if self._engine is not None:
            await self._engine.aclose()
        self._engine = None
        self.profile, self._conversation, self.session_path = profile, conversation, path
        await self.show_conversation()
        self.notify(f"opened {path}", markup=False)

    async def _command_profile_save(self, command: Command) -> None:
        from tui.core.env import config_dir
        from tui.core.profile_io import save_profile

        path = Path(command.path).expanduser() if command.path else config_dir(self.env) / "profiles" / f"{self.profile.name}.toml"
        await asyncio.to_thread(save_profile, self.profile, path)
        self.notify(f"profile saved to {path}", markup=False)

    async def _command_export(self, command: Command) -> None:
        from tui.core.env import data_dir
        from tui.core.session import export_markdown

        if command.path:
            path = Path(command.path).expanduser()
        elif self.session_path is not None:
            path = self.session_path.with_suffix(".md")
        else:
            path = data_dir(self.env) / "exports" / time.strftime("%Y%m%d-%H%M%S.md")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(export_markdown(self.conversation), encoding="utf-8")
        self.notify(f"transcript written to {path}", markup=False)

    async def _command_clear(self, command: Command) -> None:
        self.workers.cancel_group(self, "run")
        self.engine.clear()
        await self.show_conversation()

    async def _command_help(self, command: Command) -> None:
        self.action_help()


    def prefill(self, text: str) -> None:
        composer = self.query_one("#composer")
        composer.text = text
        composer.move_cursor(composer.document.end)
        composer.focus()

    def palette_entries(self) -> list[PaletteEntry]:
        from .commands import Command, PaletteEntry

        def command(cmd: Command):  # noqa: ANN202 - a palette callback
            return lambda: self.run_worker(self.run_command(cmd))

        models = sorted(self._known_models())
        entries = [PaletteEntry(f"Model: {m}", f"/model {m}", command(Command("model", model=m))) for m in models]
        entries += [PaletteEntry(f"Hand off to {m}", f"/handoff {m}", command(Command("handoff", model=m)))
                    for m in models]
        entries += [
            PaletteEntry("Route: auto", "/route auto", command(Command("route", mode="auto"))),
            PaletteEntry("Route: manual", "/route manual", command(Command("route", mode="manual"))),
            PaletteEntry("Parallel round…", "/parallel M1 M2 ... [--synth M] [PROMPT]",
                         lambda: self.prefill("/parallel " + " ".join(self.profile.parallel.models) + " ")),
            PaletteEntry("Consensus round…", "/consensus M1 M2 ... --judge M [PROMPT]",
                         lambda: self.prefill("/consensus " + " ".join(self.profile.consensus.models)
                                              + (f" --judge {self.profile.consensus.judge} "
                                                 if self.profile.consensus.judge else " "))),
            PaletteEntry("Save session", "/save", command(Command("save"))),
            PaletteEntry("Load session…", "/load PATH", lambda: self.prefill("/load ")),
            PaletteEntry("Save profile", "/profile save", command(Command("profile_save"))),
            PaletteEntry("Export transcript", "/export", command(Command("export"))),
            PaletteEntry("Clear conversation", "/clear", command(Command("clear"))),
            PaletteEntry("Help", "/help (f1)", self.action_help),
            PaletteEntry("Copy last answer", "ctrl+o", self.action_copy_answer),
            PaletteEntry("Copy last code block", "ctrl+b", self.action_copy_code),
            PaletteEntry("Cancel the answer", "escape", self.action_cancel),
        ]
        return entries

