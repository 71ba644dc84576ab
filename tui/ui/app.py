"""The Baton app: a thin App that composes the chat pane, routing panel, timeline and
composer, and passes what the person asks for to the engine.

The engine, sessions, httpx and mcp are imported where first needed, so the first frame
costs little more than Textual's own.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Static

from tui.core.conversation import Conversation
from tui.core.defaults import default_profile
from tui.core.profile import Profile

from .chat import ChatPane
from .slash import SlashCommands
from .text import COMPOSER_HINT

if TYPE_CHECKING:
    from textual import events

    from tui.core.engine import Engine
    from tui.core.tools import Approval

    from .routing_panel import RoutingPanel, RoutingState
    from .timeline import Timeline

SNAPSHOT_EVERY_S = 1.0
CODE_BLOCK = r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$"

# Notices are Textual markup in a Static (cheaper at start-up than a Markdown widget).
SETUP_NOTICE = (
    "[b]No model is ready yet[/b]\n\n"
    "{problem}\n\n"
    "Baton reads API keys from the environment, or from a [b].env[/b] file in the working "
    "directory or in [b]{config}[/b]. Set one of:\n\n"
    "  [b]OPENAI_API_KEY[/b]=...       then /model openai/gpt-4.1\n"
    "  [b]ANTHROPIC_API_KEY[/b]=...    then /model anthropic/claude-sonnet-4-5\n"
    "  [b]DEDALUS_API_KEY[/b]=...\n"
    "  [b]OPENROUTER_API_KEY[/b]=...\n\n"
    "or point [b]OLLAMA_HOST[/b] at a local Ollama (OLLAMA_HOST=http://localhost:11434) and use "
    "/model ollama/llama3.2. Then restart Baton, or give a profile with --profile."
)

WELCOME = "Send a message to [b]{model}[/b]. /help lists the commands; [b]ctrl+p[/b] opens the palette."


def provider_problem(profile: Profile, model: str | None, env: Mapping[str, str]) -> str | None:
    """Why `model` cannot answer (no model, unknown provider, missing key), or None."""
    from tui.core.models import ModelError, api_key, resolve_model

    if not model:
        return "No model is selected and no provider key was found."
    try:
        api_key(resolve_model(model, profile, env).provider, env)
    except ModelError as error:
        return f"{model}: {error}"
    return None


def last_code_block(markdown: str) -> str | None:
    blocks = re.findall(CODE_BLOCK, markdown, re.DOTALL | re.MULTILINE)
    return blocks[-1][1].rstrip("\n") if blocks else None


def _baton_commands() -> type:
    """The palette's provider, looked up when the palette first opens."""
    from .commands import BatonCommands

    return BatonCommands


class BatonApp(SlashCommands, App[None]):
    """One screen: chat, routing panel and timeline, composer, footer."""

    CSS_PATH = Path(__file__).parent / "baton.tcss"  # absolute, so subclasses anywhere find it
    TITLE = "Baton"
    COMMANDS = App.COMMANDS | {_baton_commands}
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel", tooltip="Stop the streaming answer; what arrived stays"),
        Binding("ctrl+o", "copy_answer", "Copy answer", id="copy_answer",
                tooltip="Copy the last answer to the terminal clipboard (OSC 52)"),
        Binding("ctrl+b", "copy_code", "Copy code", id="copy_code",
                tooltip="Copy the last code block of the last answer"),
        Binding("ctrl+r", "toggle_route", "Auto/manual", id="toggle_route",
                tooltip="Switch routing between auto (rules pick) and manual"),
        Binding("ctrl+s", "save", "Save", id="save", tooltip="Save the session now"),
        Binding("ctrl+t", "focus_timeline", "Timeline", id="timeline",
                tooltip="Focus the timeline; enter on a line shows its details"),
        Binding("f1", "help", "Help", id="help", tooltip="Commands and keys"),
    ]

    def __init__(
        self,
        profile: Profile,
        conversation: Conversation | None = None,
        *,
        env: Mapping[str, str] | None = None,
        session_path: Path | str | None = None,
    ) -> None:
        super().__init__()
        if env is None:
            from tui.core.env import load_environment

            env = load_environment()
        self.profile = profile
        self.env = env
        self.session_path = Path(session_path) if session_path else None
        self._conversation = conversation or Conversation(active_model=profile.default_model)
        self._engine: Engine | None = None
        self._mcp: Any = None
        self._save_lock = asyncio.Lock()
        self._last_snapshot = 0.0
        self._early_keys: list[str] | None = []  # until the composer is mounted

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        # Everything is composed with its initial state: changing widgets after mount
        # would restyle them again before the first frame.
        conversation = self.conversation
        with Horizontal(id="main"):
            yield ChatPane(conversation.messages, conversation.events, self._notice(check=False), id="chat")
            yield Vertical(id="side")
        # The TextArea costs ~17 ms to import and lay out (bench/README.md): the first
        # frame shows a stand-in drawn the same, and the real composer replaces it next.
        yield Static(COMPOSER_HINT, id="composer-standin")

    def on_mount(self) -> None:
        if self.profile.keymap:
            self.set_keymap(self.profile.keymap)
        self.call_after_refresh(self.mount_panels)

    def on_key(self, event: events.Key) -> None:
        """Keys typed before the composer exists are kept for it, not lost. Before the
        terminal is in raw mode the tty turns Enter into a line feed (ctrl+j): both send."""
        if self._early_keys is not None and (event.is_printable or event.key in ("enter", "ctrl+j")):
            self._early_keys.append(event.character if event.is_printable else "\n")
            event.stop()

    async def mount_panels(self) -> None:
        """The composer, routing panel, timeline and footer, mounted (and imported) just
        after the first frame so that it shows as early as Textual allows."""
        from textual.widgets import Footer

        from .composer import Composer
        from .routing_panel import RoutingPanel
        from .timeline import Timeline

        standin = self.query_one("#composer-standin")
        composer = Composer(id="composer")
        await self.screen.mount(composer, after=standin)
        await standin.remove()
        composer.focus()
        early, self._early_keys = self._early_keys or [], None
        for key in early:
            if key == "\n":
                composer.action_submit()
            else:
                composer.insert(key)

        await self.query_one("#side").mount_all([
            RoutingPanel(self._routing_state, id="routing"),
            Timeline(lambda: self.conversation.events, id="timeline"),
        ])
        # Checking the model's provider and key imports the model table: after the first frame.
        await self.query_one(ChatPane).set_notice(self._notice())
        await self.screen.mount(Footer())  # last: once it is there, the screen is complete
        if self.profile.mcp_servers:
            self.start_mcp()

    @property
    def engine(self) -> Engine:
        """The engine, made on first use (its import is kept out of start-up)."""
        if self._engine is None:
            from tui.core.audit import default_audit_log
            from tui.core.engine import Engine

            self._engine = Engine(self.profile, env=self.env, conversation=self._conversation, tools=self._mcp,
                                  audit=default_audit_log(self.env))
        return self._engine

    @property
    def conversation(self) -> Conversation:
        return self._engine.conversation if self._engine is not None else self._conversation

    @property
    def active_model(self) -> str | None:
        return self.conversation.active_model or self.profile.default_model

    def _notice(self, check: bool = True) -> str | None:
        """How to get a model going, a short welcome, or nothing once there is a conversation.
        Without `check`, only a missing model counts as a problem (no provider lookup)."""
        if check or not self.active_model:
            problem = provider_problem(self.profile, self.active_model, self.env)
        else:
            problem = None
        if problem:
            from tui.core.env import config_dir

            return SETUP_NOTICE.format(problem=escape(problem), config=escape(str(config_dir(self.env))))
        return None if self.conversation.messages else WELCOME.format(model=escape(str(self.active_model)))

    async def show_conversation(self) -> None:
        conversation = self.conversation
        await self.query_one(ChatPane).show_conversation(conversation.messages, conversation.events, self._notice())
        for timeline in self.query("#timeline").results():
            timeline.reset(list(conversation.events))
        self.refresh_routing()

    def refresh_routing(self) -> None:
        for panel in self.query("#routing").results():  # none until the side pane is mounted
            panel.show(self._routing_state())

    def _routing_state(self) -> RoutingState:
        from .routing_panel import TASK_TYPES, RoutingState

        profile = self.profile
        models = list(dict.fromkeys([
            *profile.models,
            *(m for m in (profile.default_model, self.active_model) if m),
            *profile.routing.rules.values(),
        ]))
        c = profile.routing.constraints
        constraints = " · ".join(part for part in (
            f"max ${c.max_cost_usd}/message" if c.max_cost_usd is not None else "",
            f"max {c.max_latency_s}s" if c.max_latency_s is not None else "",
            f"needs {', '.join(c.strengths)}" if c.strengths else "",
        ) if part)
        last = self._engine.last_route if self._engine is not None else None
        return RoutingState(
            models=tuple(models),
            active_model=self.active_model,
            mode=profile.routing.mode,
            rules=dict(profile.routing.rules),
            task_types=tuple(dict.fromkeys([*TASK_TYPES, *profile.routing.tasks, *profile.routing.rules])),
            constraints=constraints,
            last_route=last.to_record() if last is not None else None,
        )

    def sync_timeline(self) -> None:
        """Show the timeline records the engine added since the last look."""
        timelines = self.query("#timeline")
        if not timelines:  # the side pane is mounted just after the first frame
            return
        timeline = timelines.first()
        events = self.conversation.events
        if len(events) < timeline.option_count:
            timeline.reset(list(events))
        elif len(events) > timeline.option_count:
            timeline.add_records(events[timeline.option_count:])

    # ---------------------------------------------------------------- runs

    @work(exclusive=True, group="run", exit_on_error=False)
    async def play(self, events: AsyncIterator[Any], kind: str = "answer") -> None:
        """Consume one engine run; cancelling this worker is how Escape stops it."""
        from .run import RunPresenter

        presenter = RunPresenter(self, kind, self._maybe_snapshot)
        try:
            await presenter.play(events)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an engine bug must not take the app down
            self.notify(f"{type(error).__name__}: {error}", title="Run failed", severity="error", markup=False)
        finally:
            self.refresh_routing()
            self._report_mcp_problems()
            await self.save_session()

    def _maybe_snapshot(self) -> None:
        """While an answer streams, save at most about once a second."""
        now = time.monotonic()
        if now - self._last_snapshot >= SNAPSHOT_EVERY_S and not self._save_lock.locked():
            self._last_snapshot = now
            self.run_worker(self.save_session(snapshot=True), group="snapshot", exit_on_error=False)

    async def save_session(self, path: Path | None = None, *, snapshot: bool = False) -> Path | None:
        """Write the session atomically (off the event loop); saves never overlap."""
        target = path or self.session_path
        if target is None or (not self.conversation.messages and path is None):
            return None
        from tui.core.session import save_session

        conversation = self.engine.snapshot() if snapshot else self.conversation
        async with self._save_lock:
            try:
                await asyncio.to_thread(save_session, target, self.profile, conversation)
            except Exception as error:
                self.notify(f"session not saved: {error}", severity="error", markup=False)
                return None
        return target

    # ------------------------------------------------------ routing panel

    def on_routing_panel_model_picked(self, event: RoutingPanel.ModelPicked) -> None:
        self._apply(lambda: self.engine.set_model(event.model), f"{event.model} answers from now on")

    def on_routing_panel_mode_toggled(self, event: RoutingPanel.ModeToggled) -> None:
        self._apply(lambda: self.engine.set_mode(event.mode), f"routing: {event.mode}")

    def on_routing_panel_rule_edited(self, event: RoutingPanel.RuleEdited) -> None:
        self._apply(lambda: self.engine.set_rule(event.task_type, event.model),
                    f"{event.task_type} → {event.model}")

    def _apply(self, change: Any, done: str) -> None:
        try:
            change()
        except ValueError as error:
            self.notify(str(error), severity="error", markup=False)
        else:
            self.notify(done, markup=False)
        self.refresh_routing()

    def on_timeline_selected(self, event: Timeline.Selected) -> None:
        from .screens import DetailsScreen

        self.push_screen(DetailsScreen(event.record))

    # -------------------------------------------------------------- actions

    def action_cancel(self) -> None:
        if any(w.group == "run" and w.is_running for w in self.workers):
            self.workers.cancel_group(self, "run")
        else:
            self.query_one("#composer").focus()

    def _last_answer(self) -> str | None:
        return next(
            (m.content for m in reversed(self.conversation.messages)
             if m.role == "assistant" and m.content and m.lane is None),
            None,
        )

    def action_copy_answer(self) -> None:
        answer = self._last_answer()
        if answer is None:
            self.notify("no answer to copy yet", severity="warning")
            return
        self.copy_to_clipboard(answer)
        self.notify("answer copied")

    def action_copy_code(self) -> None:
        code = last_code_block(self._last_answer() or "")
        if code is None:
            self.notify("no code block in the last answer", severity="warning")
            return
        self.copy_to_clipboard(code)
        self.notify("code block copied")

    def action_toggle_route(self) -> None:
        mode = "manual" if self.profile.routing.mode == "auto" else "auto"
        self._apply(lambda: self.engine.set_mode(mode), f"routing: {mode}")

    async def action_save(self) -> None:
        from .commands import Command

        await self.run_command(Command("save"))

    def action_focus_timeline(self) -> None:
        self.query_one("#timeline").focus()

    def action_help(self) -> None:
        from .commands import HELP
        from .screens import HelpScreen

        self.push_screen(HelpScreen(HELP))

    # ----------------------------------------------------------------- MCP

    @work(group="mcp", exit_on_error=False)
    async def start_mcp(self) -> None:
        from tui.core.mcp.client import McpTools

        self._mcp = McpTools(self.profile.mcp_servers, self.env, approve=self.approve_tool)
        if self._engine is not None:
            self._engine.tools = self._mcp
        self._show_servers()
        try:
            problems = await self._mcp.start()
        except Exception as error:
            problems = [f"MCP: {type(error).__name__}: {error}"]
        for problem in problems:
            self.notify(problem, title="MCP server", severity="warning", markup=False)
        self._show_servers()

    def _show_servers(self) -> None:
        for panel in self.query("#routing").results():
            panel.show_servers(self._mcp.status)

    def _report_mcp_problems(self) -> None:
        if self._mcp is None:
            return
        for problem in self._mcp.problems():
            self.notify(problem, title="MCP server", severity="warning", markup=False)
        self._show_servers()

    async def approve_tool(self, server: str, tool: str, arguments: dict[str, Any]) -> Approval:
        """The ApproveFn: ask in a modal (McpTools remembers 'allow for session')."""
        from .screens import ApprovalScreen

        answer: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()
        self.push_screen(ApprovalScreen(server, tool, arguments), callback=answer.set_result)
        return await answer

    async def on_unmount(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()
        if self._mcp is not None:
            await self._mcp.aclose()


def _default_session_path() -> Path:
    from tui.core.env import data_dir

    return data_dir() / "sessions" / time.strftime("%Y%m%d-%H%M%S.toml")


def run(profile_arg: str | None, session_arg: str | None) -> int:
    """`baton`: open the app; a bad profile or session is one line on stderr, status 2."""
    from tui.core.env import load_environment
    from tui.core.profile_io import ProfileError, find_profile, load_profile
    from tui.core.session import SessionError, load_session

    env = load_environment()
    conversation = None
    try:
        profile = load_profile(find_profile(profile_arg)) if profile_arg else None
        if session_arg and Path(session_arg).expanduser().exists():
            session_profile, conversation = load_session(Path(session_arg).expanduser())
            profile = profile or session_profile
    except (ProfileError, SessionError) as error:
        print(str(error), file=sys.stderr)
        return 2
    session_path = Path(session_arg).expanduser() if session_arg else _default_session_path()
    BatonApp(profile or default_profile(env), conversation, env=env, session_path=session_path).run()
    return 0
