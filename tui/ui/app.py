"""The Baton app: a thin App that composes the chat pane, routing panel, timeline and
composer, turns what the person asks for into runs (through the core's Controller) and
shows each run with a RunPresenter.

The engine, sessions, httpx and mcp are imported where first needed, so the first frame
costs little more than Textual's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Static

from tui.core.conversation import Conversation
from tui.core.events import (
    ConsensusEvent,
    Event,
    HandoffEvent,
    ModelSelected,
    NoticeEvent,
    RouteEvent,
    RunFailed,
    TimelineEvent,
    TurnEvent,
)
from tui.core.preview import PreviewConversation
from tui.core.profile import Profile

from . import pace
from .chat import ChatPane
from .notices import SETUP_NOTICE, WELCOME, last_code_block, provider_problem
from .select import ALT_DIGITS, alternative_place, pending_compare, round_key_applies
from .text import COMPOSER_HINT, dollars

if TYPE_CHECKING:

    from textual.driver import Driver

    from tui.core.autosave import AutoSave
    from tui.core.commands import Command
    from tui.core.context import Meter
    from tui.core.controller import Controller, SessionLock
    from tui.core.providers.worker import StreamWorker
    from tui.core.run import Run
    from tui.core.session import SessionWriter
    from tui.core.tools import Approval
    from tui.core.trust import Blocked

    from .composer import Composer
    from .routing_panel import RoutingPanel, RoutingState
    from .timeline import Timeline

NARROW = 110  # columns: below this the side panels hide and the chat takes the width


class BatonApp(App[None]):
    """One screen: chat, routing panel and timeline, composer, footer."""

    CSS_PATH = Path(__file__).parent / "baton.tcss"  # absolute, so subclasses anywhere find it
    TITLE = "Baton"
    BINDINGS = [
        Binding("ctrl+up,alt+up", "select_message", "Select", id="select", key_display="^↑",
                tooltip="Select the last message; then up and down move, and keys act on the one selected"),
        *(Binding(f"alt+{n},{ALT_DIGITS[n - 1]}", f"round_key('pick', {n})", "Pick", id=f"pick_{n}", show=n == 1,
                  priority=True, key_display="alt+1-9", tooltip="Go on from answer N of the round alone (/pick N)")
          for n in range(1, 10)),
        *(Binding(keys, f"round_key('vote', {choice!r})", text, id=f"vote_{choice.lower()}", priority=True,
                  key_display=display, tooltip=f"/vote {choice}: which answer of the blind compare was better")
          for keys, choice, text, display in (
              (f"alt+a,alt+1,{ALT_DIGITS[0]}", "A", "Vote A", "alt+1"),
              (f"alt+b,alt+2,{ALT_DIGITS[1]}", "B", "Vote B", "alt+2"),
              ("alt+t", "tie", "Tie", None))),
        Binding("escape", "cancel", "Cancel", id="cancel", tooltip="Stop the streaming answer; what arrived stays"),
        Binding("ctrl+o", "copy_answer", "Copy answer", id="copy_answer",
                tooltip="Copy the last answer to the terminal clipboard (OSC 52)"),
        Binding("ctrl+b", "copy_code", "Copy code", id="copy_code", show=False,
                tooltip="Copy the last code block of the last answer"),
        Binding("ctrl+r", "toggle_route", "Auto/manual", id="toggle_route", show=False,
                tooltip="Switch routing between auto (rules pick) and manual"),
        Binding("ctrl+s", "save", "Save", id="save", tooltip="Save the session now"),
        Binding("ctrl+t", "focus_timeline", "Timeline", id="timeline",
                tooltip="Focus the timeline; enter on a line shows its details"),
        Binding("f1", "help", "Help", id="help", tooltip="Commands and keys"),
        Binding("ctrl+f", "find", "Find", id="find", tooltip="Search the conversation"),
        Binding("f2", "toggle_side", "Panels", id="toggle_side",
                tooltip="Show or hide the routing panel and the timeline (remembered)"),
        Binding("ctrl+g", "send_now", "Send now", id="send_now", show=False,
                tooltip="Send the queued message now, stopping the answer that streams"),
        Binding("alt+left", "alternative(-1)", "Previous alternative", id="previous_alternative", show=False,
                tooltip="Show the previous alternative of the last answer and go on from it"),
        Binding("alt+right", "alternative(1)", "Next alternative", id="next_alternative", show=False,
                tooltip="Show the next alternative of the last answer and go on from it"),
    ]

    def __init__(
        self,
        profile: Profile,
        conversation: Conversation | None = None,
        *,
        env: Mapping[str, str] | None = None,
        session_path: Path | str | None = None,
        blocked: Blocked | None = None,
        trust_request: tuple[str, list[str]] | None = None,
        notices: Iterable[str] = (),
        stream_worker: bool = False,
    ) -> None:
        """`stream_worker`: providers stream in a process of their own, started after the
        first frame (`baton` does; tests mostly stream in process)."""
        super().__init__()
        if env is None:
            from tui.core.env import load_environment

            env = load_environment()
        self.profile = profile
        self.env = env
        self.session_path = Path(session_path) if session_path else None
        # Providers and MCP servers left off (a file not trusted): name -> why.
        self.blocked: dict[str, str] = dict(blocked.providers) if blocked else {}
        self.blocked_servers: dict[str, str] = dict(blocked.mcp_servers) if blocked else {}
        # (path, what it would do): asked in a modal after the first frame.
        self._trust_request = trust_request
        self._trusted_paths: set[Path] = set()
        self._editing: str | None = None  # the question /edit put back in the composer
        self._queued: list[str] = []  # messages sent while an answer streams, in order
        self._side_choice: bool | None = None  # the person's F2 choice; None: by the width
        self._checking_below = 0.0  # when a check was queued; 0: none
        self._conversation = conversation or Conversation(active_model=profile.default_model)
        # While a blind compare waits for a vote, its timeline lines (which name models) wait too.
        self._blind: list[TimelineEvent] | None = [] if pending_compare(self._conversation) else None
        # A long session opens on its end (a preview); the whole file loads after the first frame.
        self._loading = conversation if isinstance(conversation, PreviewConversation) else None
        self._held: list[str] = []  # sent while it loads: sent, in order, once it has
        self.load_error: str | None = None  # the whole file did not fit: the app exits with it
        self._notices = list(notices)
        self._controller: Controller | None = None
        self._autosave: AutoSave | None = None
        self._writer: SessionWriter | None = None  # the session's TOML, kept a table at a time
        self._looking_up: set[str] = set()  # models whose context window is being read in a thread
        self.session_lock: SessionLock | None = None  # held on the file this app writes (none in tests)
        self._warming: threading.Thread | None = None  # the imports after the first frame
        self._mcp: Any = None
        self._run: Run | None = None
        self._last_route: RouteEvent | None = None
        self._votes_seen: tuple[tuple[float, int] | None, dict[str, Any]] = (None, {})
        self._save_error: str | None = None
        self._early_keys: list[str] | None = []  # until the composer is mounted
        self._wants_worker = stream_worker
        self._stream_worker: StreamWorker | None = None

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:
        """Every toast neutralised once, here: they carry text from outside (provider
        errors, MCP servers, file names) that must never reach the terminal as escapes."""
        from tui.core.text import one_line

        kwargs["markup"] = False
        super().notify(one_line(message, 600), title=one_line(title, 100), **kwargs)

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        # Everything is composed with its initial state: changing widgets after mount
        # would restyle them again before the first frame.
        conversation = self.conversation
        with Horizontal(id="main"):
            yield ChatPane(conversation.messages, _records(conversation.events), self._notice(check=False),
                           alternative=self._alternative, id="chat")
            yield Vertical(id="side")
        # The TextArea costs ~17 ms to import and lay out (bench/README.md): the first
        # frame shows a stand-in drawn the same, and the real composer replaces it next.
        yield Static(COMPOSER_HINT, id="composer-standin")

    def on_mount(self) -> None:
        if self.profile.keymap:
            self.set_keymap(self.profile.keymap)
        from .settings import read_ui_settings

        settings = read_ui_settings(self.env)
        self._side_choice = settings.get("side") if isinstance(settings.get("side"), bool) else None
        theme = settings.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self._layout(self.size.width)
        # One callback, and no modal before it: Textual queues an after-refresh callback on
        # the screen on top, and a modal answered before it paints drops what it holds.
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        await self.mount_panels()
        if self._trust_request is not None:
            from .screens import TrustScreen

            self.push_screen(TrustScreen(*self._trust_request), callback=self._trust_answered)
        if self._loading is not None:
            self._finish_loading()

    @work(group="load", exit_on_error=False)
    async def _finish_loading(self) -> None:
        """Read, check and trust the whole session off the event loop, then put it in the
        preview's place (the chat shows the same end); what was sent meanwhile goes now."""
        from tui.core.preview import in_daemon_thread
        from tui.core.profile_io import FileFormatError

        from .composer import Composer

        preview = self._loading
        assert preview is not None and preview.load is not None
        try:
            args = await in_daemon_thread(preview.load)
        except Exception as error:
            args = {"error": str(error) if isinstance(error, FileFormatError) else f"{type(error).__name__}: {error}"}
        self._loading = None
        replaced = self._conversation is not preview  # another session opened meanwhile (/sessions, /clear) stays
        if not replaced and "error" in args:
            self.load_error = args["error"]  # as if read before the first frame: one line, status 2
            self.exit(return_code=2)
            return
        if not replaced:
            conversation = args["conversation"] or Conversation(active_model=args["profile"].default_model)
            await self._replace(args["profile"], conversation, args["session_path"], args["blocked"])
            for notice in args["notices"]:
                await self.query_one(ChatPane).add_line(notice, "info")
            if args["trust_request"] is not None:  # the whole file asks what its beginning did not
                from .screens import TrustScreen

                self._trust_request = args["trust_request"]
                self.push_screen(TrustScreen(*args["trust_request"]), callback=self._trust_answered)
        held, self._held = self._held, []
        for text in held:
            await self.on_composer_submitted(Composer.Submitted(self.query_one("#composer", Composer), text))

    async def _trust_answered(self, trusted: bool | None) -> None:
        """The person's answer about a file from elsewhere; anything but a deliberate yes is no."""
        assert self._trust_request is not None
        path, _lines = self._trust_request
        self._trust_request = None
        chat = self.query_one(ChatPane)
        if trusted:
            import os

            from tui.core.trust import trust

            try:
                trust(Path(path), self.profile, os.environ)
            except OSError as error:
                self.notify(f"consent not recorded: {error}", severity="error", markup=False)
            self.blocked.clear()
            self.blocked_servers.clear()
            if self._controller is not None:
                self._controller.engine.runner.blocked = {}
            await chat.set_notice(self._notice())
            await chat.add_line(f"✓ trusted {path}: its servers and providers are on", "info")
            if self.profile.mcp_servers and self._mcp is None:
                self.start_mcp()
            return
        off = ", ".join([*(f"provider {n}" for n in self.blocked), *(f"MCP server {n}" for n in self.blocked_servers)])
        await chat.add_line(f"⚠ {path} is not trusted: {off} stay off (baton trust {path} turns them on)", "error")

    async def on_event(self, event: events.Event) -> None:
        """Keys typed before the composer exists are kept for it, not lost. Before the
        terminal is in raw mode the tty turns Enter into a line feed (ctrl+j): both send.
        They are taken here, as they come in, not where they bubble back unhandled: a key
        handed to the chat just before the composer took the focus came back too late.
        Every key also holds streamed text back for a moment (`pace`), so it shows at once."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            pace.key_handled()
        if (isinstance(event, events.Key) and not event.is_forwarded and self._early_keys is not None
                and not self.screen.is_modal  # the palette typed ahead takes its own keys
                and (event.is_printable or event.key in ("enter", "ctrl+j"))):
            self._early_keys.append(event.character if event.is_printable and event.character else "\n")
            return
        await super().on_event(event)

    def get_driver_class(self) -> type[Driver]:
        return pace.keys_first(super().get_driver_class())

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        """Below NARROW columns the side panels hide (F2 shows them over the chat); the
        person's own choice wins at any width."""
        sides = self.query("#side")
        if not sides:
            return
        side = sides.first()
        narrow = width < NARROW
        shown = self._side_choice if self._side_choice is not None else not narrow
        side.display = shown and self._blind is None
        side.set_class(narrow, "-overlay")

    async def action_find(self) -> None:
        await self.query_one(ChatPane).open_find()

    def action_toggle_side(self) -> None:
        side = self.query_one("#side")
        self._side_choice = not side.display
        self._layout(self.size.width)
        from .settings import write_ui_settings

        write_ui_settings(self.env, side=self._side_choice, theme=self.theme)

    def watch_theme(self, theme: str) -> None:
        if self.is_running:
            from .settings import write_ui_settings

            write_ui_settings(self.env, theme=theme)

    async def mount_panels(self) -> None:
        """The composer, routing panel, timeline and footer, mounted (and imported) just
        after the first frame so that it shows as early as Textual allows."""
        from textual.widgets import Footer

        from .composer import Composer
        from .routing_panel import RoutingPanel
        from .status import StatusLine
        from .timeline import Timeline

        standin = self.query_one("#composer-standin")
        main = standin.screen  # not `self.screen`: a modal typed ahead may be on top
        composer = Composer(id="composer", history=self.prompt_history)
        await main.mount(StatusLine(id="status"), before=standin)
        await main.mount(composer, after=standin)
        await standin.remove()
        # Focused now, not by a later callback: keys typed while the rest mounts are
        # handed to the focused widget when they are read, which must be the composer.
        main.set_focus(composer)
        early, self._early_keys = self._early_keys or [], None
        for key in early:
            if key == "\n":
                composer.action_submit()
            else:
                composer.insert(key)

        await self.query_one("#side").mount_all([
            RoutingPanel(self._routing_state, id="routing"),
            Timeline(lambda: _records(self.conversation.events), id="timeline"),
        ])
        # Checking the model's provider and key imports the model table: after the first frame.
        chat = self.query_one(ChatPane)
        await chat.set_notice(self._notice())
        for notice in self._notices:
            await chat.add_line(notice, "info")
        await main.mount(Footer())  # last: once it is there, the screen is complete
        self._warming = _warm_up()
        if self._wants_worker:  # the second core reads the streams (its start costs this process nothing)
            from tui.core.providers.worker import StreamWorker

            self._stream_worker = StreamWorker()
            self._stream_worker.start()
            if self._controller is not None:
                self._controller.engine.runner.worker = self._stream_worker
        self.show_totals()
        # The composer and footer took lines from the chat: keep its last line in view.
        self.call_after_refresh(chat.scroll_end, animate=False)
        if {n for n in self.profile.mcp_servers if n not in self.blocked_servers}:
            self.start_mcp()

    # ------------------------------------------------------------ the engine

    @property
    def controller(self) -> Controller:
        """The controller and its engine, made on first use (kept out of start-up)."""
        if self._controller is None:
            from tui.core.audit import default_audit_log
            from tui.core.autosave import AutoSave
            from tui.core.controller import Controller, audit_sink
            from tui.core.votes import votes_sink

            self._autosave = AutoSave(self._write_session)
            self._controller = Controller(
                self.profile, self.env, self._conversation, tools=self._mcp, blocked=self.blocked,
                sinks=[audit_sink(default_audit_log(self.env)), votes_sink(self.env), self._autosave],
            )
            self._controller.engine.runner.worker = self._stream_worker
        return self._controller

    @property
    def conversation(self) -> Conversation:
        return self._controller.conversation if self._controller is not None else self._conversation

    @property
    def active_model(self) -> str | None:
        return self.conversation.active_model or self.profile.default_model

    def _notice(self, check: bool = True) -> str | None:
        """How to get a model going, a short welcome, or nothing once there is a conversation.
        Without `check`, only a missing model counts as a problem (no provider lookup)."""
        if check or not self.active_model:
            problem = provider_problem(self.profile, self.active_model, self.env, self.blocked)
        else:
            problem = None
        if problem:
            from tui.core.env import config_dir

            return SETUP_NOTICE.format(problem=escape(problem), config=escape(str(config_dir(self.env))))
        return None if self.conversation.nodes else WELCOME.format(model=escape(str(self.active_model)))

    async def show_conversation(self) -> None:
        conversation = self.conversation
        if pending_compare(conversation) is None:  # names stay hidden until the vote
            self._blind = None
        elif self._blind is None:
            self._blind = []
        self._layout(self.size.width)
        await self.query_one(ChatPane).show_conversation(conversation.messages, _records(conversation.events),
                                                         self._notice())
        from .timeline import Timeline

        for timeline in self.query("#timeline").results(Timeline):
            timeline.reset(_records(conversation.events))
        self.refresh_routing()
        self.show_totals()
        self.refresh_bindings()

    def _alternative(self, message_id: str) -> tuple[int, int] | None:
        return alternative_place(self.conversation, message_id)

    def refresh_routing(self) -> None:
        from .routing_panel import RoutingPanel

        for panel in self.query("#routing").results(RoutingPanel):  # none until the side pane is mounted
            panel.show(self._routing_state())

    def _routing_state(self) -> RoutingState:
        from tui.core.routing import TASK_TYPES

        from .routing_panel import RoutingState

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
        return RoutingState(
            models=tuple(models),
            active_model=self.active_model,
            mode=profile.routing.mode,
            rules=dict(profile.routing.rules),
            task_types=tuple(dict.fromkeys([*TASK_TYPES, *profile.routing.tasks, *profile.routing.rules])),
            constraints=constraints,
            last_route=self._last_route.to_record() if self._last_route is not None else None,
            leaders=self._leaders(),
        )

    def _leaders(self) -> dict[str, Any]:
        """Your leaderboard's leader per task type, read again only when the votes file changed."""
        from tui.core import votes

        path = votes.votes_path(self.env)
        try:
            stat = path.stat()
            key: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
        except OSError:
            key = None
        if key != self._votes_seen[0]:
            self._votes_seen = (key, dict(votes.leaders(votes.load(self.env))) if key else {})
        return self._votes_seen[1]

    # ---------------------------------------------------------------- runs

    async def on_composer_scroll(self, event: Composer.Scroll) -> None:
        chat = self.query_one(ChatPane)
        if event.where in ("up", "start"):
            chat.release_anchor()  # the person looks back: stop following the stream
        if event.where == "up":
            chat.scroll_page_up(animate=False)
        elif event.where == "down":
            chat.scroll_page_down(animate=False)
        elif event.where == "start":
            await chat.show_start()
        else:
            await chat.show_end()

    def _new_output(self) -> None:
        """A streamed piece arrived: once the screen has followed it (or not), say so when
        the person has scrolled away from the end."""
        now = time.monotonic()
        # A check queued under a modal closed before it painted is dropped: ask again after 1 s.
        if now - self._checking_below > 1.0:
            self._checking_below = now
            self.call_after_refresh(self._check_below)

    def _check_below(self) -> None:
        from .status import StatusLine

        self._checking_below = 0.0
        chat = self.query_one(ChatPane)
        away = chat.max_scroll_y - max(chat.scroll_y, 0) > 2  # (a short chat sits below y=0)
        for status in self.query("#status").results(StatusLine):
            status.set_below(away)

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        text = event.text
        if self._loading is not None:
            self._held.append(text)
            await self.query_one(ChatPane).add_line(f"⏳ queued: {text} (sent once the session has loaded)", "info")
            return
        if text.startswith("/"):
            from tui.core.commands import CommandError, parse_command  # first use, off the start-up path

            try:
                command = parse_command(text, self.controller.known_models())
            except CommandError as error:
                self.notify(str(error), severity="error", markup=False)
                return
            await self.run_command(command)
            return
        if self._run is not None and self._editing is None:
            # Typing never destroys: the message waits for the answer that is streaming.
            self._queued.append(text)
            await self.query_one(ChatPane).add_line(
                f"⏳ queued: {text} (sent when this answer ends; ctrl+g sends it now)", "info")
            return
        await self.cancel_run()
        editing, self._editing = self._editing, None
        if editing is not None and editing in self.conversation.nodes:
            # A new branch from just before the edited question; the old one stays.
            run = self.controller.engine.edit(editing, text)
            parent = self.conversation.nodes[editing].parent
            await self.query_one(ChatPane).show_conversation(self.conversation.shown(parent),
                                                             _records(self.conversation.events))
        else:
            run = self.controller.send(text)
        await self._show_question(text)
        self.play(run)

    def prompt_history(self) -> list[str]:
        """Earlier prompts, oldest first: every session's (the history file), then this one's,
        so Up goes through this session's first."""
        from tui.core.sessions import read_prompts

        mine = [m.content for m in self.conversation.path() if m.role == "user"]
        earlier = [p for p in read_prompts(self.env) if p not in mine]
        return [*earlier, *mine]

    async def _show_question(self, text: str) -> None:
        """The person's message in the chat; the welcome goes once there is a conversation."""
        from tui.core.sessions import remember_prompt

        chat = self.query_one(ChatPane)
        if provider_problem(self.profile, self.active_model, self.env, self.blocked) is None:
            await chat.set_notice(None)
        await chat.add_user(text)
        await asyncio.to_thread(remember_prompt, text, self.env)

    async def run_command(self, command: Command) -> None:
        from tui.core.profile_io import FileFormatError

        from . import steering

        handler = getattr(self, f"_command_{command.name}", None)
        try:
            if handler is not None:
                await handler(command)
            else:  # regen, edit, pick, fork, tree, sessions, compare, vote, compact, cost
                await getattr(steering, command.name)(self, command)
        except (ValueError, OSError, FileFormatError) as error:  # ModelError, bad arguments, file errors
            self.notify(str(error), severity="error", markup=False)

    @work(group="run", exit_on_error=False)
    async def play(self, run: Run, kind: str = "answer") -> None:
        """Show one run to its end; Escape cancels the run, not this worker."""
        from .run import RunPresenter

        self._run = run
        run.yield_to = pace.key_pending  # a key typed meanwhile goes first
        from .status import StatusLine

        presenter = RunPresenter(
            self.query_one(ChatPane), kind, blind=kind == "compare",
            status=next(iter(self.query("#status").results(StatusLine)), None),
            notify=lambda message, severity: self.notify(message, severity=severity, markup=False),
            on_timeline=self._timeline_event,
            on_text=self._new_output,
            on_state=self._state_event,
        )
        try:
            await presenter.play(run)
        except Exception as error:  # an app bug must not take the app down
            self.notify(f"{type(error).__name__}: {error}", title="Run failed", severity="error", markup=False)
        finally:
            if self._run is run:
                self._run = None
            self.refresh_routing()
            self._show_servers()
            self.show_totals()  # the context meter with the answer in it (its turn event came first)
            if kind == "compact" and run.result is not None and not isinstance(run.result, RunFailed):
                await self.show_conversation()  # the new, shorter branch
            if self._queued and self._run is None:
                self.call_later(self._send_queued)
            self.refresh_bindings()  # the round keys apply, or no longer

    async def _send_queued(self) -> None:
        if self._queued and self._run is None:
            text = self._queued.pop(0)
            await self._show_question(text)
            self.play(self.controller.send(text))

    async def action_send_now(self) -> None:
        """Send the queued message now: the streaming answer stops, what arrived stays."""
        if not self._queued:
            self.notify("nothing queued", markup=False)
            return
        await self.cancel_run()

    async def action_quit(self) -> None:
        """Quit: a run still going is cancelled first, through the run, so that what arrived
        reaches the session file marked cancelled (at unmount its presenter is gone)."""
        await self.cancel_run()
        await self.flush_saves()
        self.exit()

    async def cancel_run(self) -> None:
        """Stop the run that is going, keep what arrived, and let its presenter finish."""
        run = self._run
        if run is None:
            return
        await run.cancel()
        await self.workers.wait_for_complete([w for w in self.workers if w.group == "run"])

    def _timeline_event(self, event: TimelineEvent) -> None:
        from .timeline import Timeline

        if isinstance(event, TurnEvent):
            self.show_totals()
        if self._blind is not None:
            self._blind.append(event)
            return
        for timeline in self.query("#timeline").results(Timeline):
            timeline.add_records([event.to_record()])

    def show_totals(self) -> None:
        """The session's money and tokens, and the context meter, on the status line."""
        from .status import StatusLine

        if self._loading is not None:  # only the end is here: its sums would not be the session's
            for status in self.query("#status").results(StatusLine):
                status.set_totals("session totals once the whole file has loaded")
            return
        turns = [e for e in self.conversation.events if isinstance(e, TurnEvent)]
        known = [e.cost_usd for e in turns if e.cost_usd is not None]
        unknown = any(e.cost_usd is None and e.usage for e in turns)
        tokens = sum(e.usage.get("input_tokens", 0) + e.usage.get("output_tokens", 0) for e in turns)
        money = dollars(sum(known)) if known else ("cost unknown" if unknown else "$0")
        if known and unknown:
            money += " + unknown"
        meter = self._meter()
        context = ""
        if meter is not None and self._blind is None:
            context = f" · {meter.label()}" + (" ⚠" if meter.warn else "")
        for status in self.query("#status").results(StatusLine):
            status.set_totals(f"session {money} · {tokens:,} tok{context}")

    def _meter(self) -> Meter | None:
        """How full the active model's window is with this branch (no engine needed). A
        window not known yet is looked up in a thread, and the totals shown again then."""
        from tui.core.context import meter, window, window_known
        from tui.core.models import ModelError, resolve_model

        if not self.active_model:
            return None
        try:
            spec = resolve_model(self.active_model, self.profile, self.env)
        except ModelError:
            return None
        if not window_known(spec):
            if spec.model_id not in self._looking_up:
                self._looking_up.add(spec.model_id)

                async def look_up() -> None:
                    with contextlib.suppress(Exception):
                        if self._warming is not None:  # one thread importing at a time: two can deadlock
                            await asyncio.to_thread(self._warming.join)
                        await asyncio.to_thread(window, spec)
                    self.show_totals()

                self.run_worker(look_up(), exit_on_error=False)
            return None
        return meter(spec, [m for m in self.conversation.path() if m.lane is None], self.profile.system_prompt)

    def _state_event(self, event: Event) -> None:
        if isinstance(event, RouteEvent):
            self._last_route = event
        if isinstance(event, (RouteEvent, HandoffEvent, ModelSelected, ConsensusEvent)):
            self.refresh_routing()  # a judge's ranking moves your leaderboard too

    # ------------------------------------------------------------- sessions

    async def _write_session(self, snapshot: bool) -> None:
        """The AutoSave's writer: copies taken here (cheap), the TOML made and written in a
        thread, so that a long session's save does not hold the keys up."""
        from tui.core.profile_io import profile_to_dict
        from tui.core.session import SessionWriter

        target = self.session_path
        conversation = self.conversation
        if target is None or not conversation.nodes or isinstance(conversation, PreviewConversation):
            return  # nothing to save; a session still loading is the file itself
        profile = profile_to_dict(self.profile)
        copy = conversation.snapshot(snapshot)

        if self._writer is None:
            self._writer = SessionWriter()
        writer = self._writer

        def write() -> None:
            writer.write(target, profile, copy)

        try:
            await asyncio.to_thread(write)
            self._remember_written(target)
        except Exception as error:
            message = f"session not saved: {error}"
            if message != self._save_error:  # say it once, not on every turn
                self.notify(message, severity="error", markup=False)
            self._save_error = message
        else:
            self._save_error = None

    async def save_now(self, path: Path) -> None:
        """Write the session to `path` (raises on failure)."""
        from tui.core.session import save_session

        await asyncio.to_thread(save_session, path, self.profile, self.conversation)
        self._remember_written(path)

    def _remember_written(self, path: Path) -> None:
        """A file Baton wrote opens again without asking, unless its parts were off here:
        saving an untrusted profile must not turn it into a trusted one."""
        if path in self._trusted_paths or self.blocked or self.blocked_servers:
            return
        import os

        from tui.core.trust import remember_written

        try:
            remember_written(path, self.profile, os.environ)
        except OSError:
            return
        self._trusted_paths.add(path)

    async def _replace(
        self, profile: Profile, conversation: Conversation, path: Path, blocked: Blocked | None = None
    ) -> None:
        """Leave the current session (its file keeps all it had) and open another; a new
        profile brings its own trust (`blocked`: the parts that stay off). A file another
        Baton has open is refused before anything changes."""
        lock = self.lock_for(path)
        try:
            await self._swap(profile, conversation, path, blocked)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        self.hold(lock)

    async def _swap(
        self, profile: Profile, conversation: Conversation, path: Path, blocked: Blocked | None = None
    ) -> None:
        await self.cancel_run()
        await self.flush_saves()
        if self._controller is not None:
            await self._controller.aclose()
        if profile is not self.profile and self._mcp is not None:
            await self._mcp.aclose()
            self._mcp = None
        self._controller = None
        self._autosave = None
        from tui.core.session import SessionWriter

        self._writer = SessionWriter()
        self._writer.opened(path, conversation)
        self._last_route = None
        changed = profile is not self.profile
        if changed:
            self.blocked = dict(blocked.providers) if blocked else {}
            self.blocked_servers = dict(blocked.mcp_servers) if blocked else {}
        self.profile, self._conversation, self.session_path = profile, conversation, path
        await self.show_conversation()
        if changed and {n for n in self.profile.mcp_servers if n not in self.blocked_servers}:
            self.start_mcp()
        import gc

        gc.freeze()  # a long session's messages live as long as it is open: not walked by every full collection

    def lock_for(self, path: Path) -> SessionLock | None:
        """The lock of the session file `path`, taken (None: this app takes no locks, or
        holds it already). Another Baton writing that file: a ValueError, one line."""
        from tui.core.controller import SessionLock

        held = self.session_lock
        if held is None or held.path == SessionLock(path).path:
            return None
        lock = SessionLock(path)
        if not lock.acquire():
            raise ValueError(f"{path} is open in another Baton; close it there first")
        return lock

    def hold(self, lock: SessionLock | None) -> None:
        """Write under `lock` from now on, and let the last file go."""
        if lock is not None:
            if self.session_lock is not None:
                self.session_lock.release()
            self.session_lock = lock

    async def flush_saves(self) -> None:
        if self._autosave is not None:
            await self._autosave.flush()

    async def _command_model(self, command: Command) -> None:
        self.controller.engine.check_model(command.model or "")
        self._pick_model(command.model or "")

    async def _command_route(self, command: Command) -> None:
        self.controller.engine.set_mode(command.mode or "manual")
        self.refresh_routing()
        self.notify(f"routing: {command.mode}", markup=False)

    async def _command_handoff(self, command: Command) -> None:
        if "edit" not in command.extra:
            run = self.controller.start(command)
            await self.cancel_run()
            self.play(run)
            return
        from .screens import HandoffScreen

        engine = self.controller.engine
        target = command.model or ""
        engine.check_model(target)

        async def reviewed(package: dict[str, Any] | None) -> None:
            if package is None:
                self.notify("handoff cancelled", markup=False)
                return
            await self.cancel_run()
            self.play(engine.handoff(target, str(package.get("instructions", "")), back="back" in command.extra,
                                     package=package))

        self.push_screen(HandoffScreen(engine.package(target, command.text)), callback=reviewed)

    async def _command_parallel(self, command: Command) -> None:
        await self._round(command)

    async def _command_consensus(self, command: Command) -> None:
        await self._round(command)

    async def _round(self, command: Command) -> None:
        run = self.controller.start(command)  # checks first: a bad command changes nothing
        await self.cancel_run()
        await self._show_question(command.text or self.controller.last_prompt() or "")
        self.play(run, command.name)

    async def _command_help(self, command: Command) -> None:
        self.action_help()

    # ------------------------------------------------------ the tree

    async def action_alternative(self, step: int) -> None:
        """Step through the alternatives of the last answer (a regenerated one, a retry)."""
        from .steering import alternative

        await alternative(self, step)

    @staticmethod
    def steering() -> Any:
        """The steering commands, for the chat's selection keys (which cannot import them)."""
        from . import steering

        return steering

    async def action_select_message(self) -> None:
        """Select the last message of the chat (keys then act on it; escape comes back)."""
        chat = self.query_one(ChatPane)
        index = chat.next_selectable(None, -1)
        if index is None:
            self.notify("nothing to select yet", markup=False)
            return
        self.screen.set_focus(chat)  # now, not later: the keys that follow act on the selection
        await chat.select(index)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._loading is not None and action in ("save", "send_now", "alternative", "toggle_route",
                                                     "select_message", "round_key"):
            return False  # a long session still loading shows only its end: nothing may act on it
        if action == "select_message":
            chats = self.query("#chat")
            return bool(chats) and self.query_one(ChatPane).next_selectable(None, -1) is not None
        if action == "round_key":
            name, argument = parameters
            return not self.screen.is_modal and round_key_applies(self.conversation, str(name), argument)
        return True

    async def action_round_key(self, name: str, argument: object) -> None:
        """/pick N or /vote from anywhere, while they apply."""
        from tui.core.commands import Command

        await self.run_command(Command(name, text=str(argument)))
        self.refresh_bindings()

    # ------------------------------------------------------ routing panel

    def on_routing_panel_model_picked(self, event: RoutingPanel.ModelPicked) -> None:
        self._pick_model(event.model)

    def _pick_model(self, model: str) -> None:
        """The person chose who answers: in auto mode that means manual from now on."""
        auto = self.profile.routing.mode == "auto"

        def change() -> None:
            self.controller.engine.set_model(model)
            if auto:
                self.controller.engine.set_mode("manual")

        self._apply(change, f"{model} answers from now on" + (" (routing switched to manual)" if auto else ""))

    def on_routing_panel_mode_toggled(self, event: RoutingPanel.ModeToggled) -> None:
        self._apply(lambda: self.controller.engine.set_mode(event.mode), f"routing: {event.mode}")

    def on_routing_panel_rule_edited(self, event: RoutingPanel.RuleEdited) -> None:
        self._apply(lambda: self.controller.engine.set_rule(event.task_type, event.model),
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

    # -------------------------------------------------------------- palette

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every slash command in the palette (the table is core's); those that need a free
        argument fill the composer instead of guessing it; then the keys' actions."""
        from tui.core.commands import palette

        yield from super().get_system_commands(screen)
        for title, usage, what in palette(self.profile, self.active_model):
            if isinstance(what, str):
                yield SystemCommand(title, usage, partial(self.prefill, what))
            else:
                yield SystemCommand(title, usage, partial(self._run_from_palette, what))
        yield SystemCommand("Help", "/help (f1)", self.action_help)
        yield SystemCommand("Copy last answer", "ctrl+o", self.action_copy_answer)
        yield SystemCommand("Copy last code block", "ctrl+b", self.action_copy_code)
        yield SystemCommand("Cancel the answer", "escape", self.action_cancel)

    def _run_from_palette(self, command: Command) -> None:
        self.run_worker(self.run_command(command))

    def prefill(self, text: str) -> None:
        from .composer import Composer

        composer = self.query_one("#composer", Composer)
        composer.text = text
        composer.move_cursor(composer.document.end)
        composer.focus()

    # -------------------------------------------------------------- actions

    async def action_cancel(self) -> None:
        if self._run is not None:
            await self.cancel_run()
        else:
            self.query_one("#composer").focus()

    def _last_answer(self) -> str | None:
        return next(
            (m.content for m in reversed(self.conversation.path()) if m.role == "assistant" and m.content),
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
        self._apply(lambda: self.controller.engine.set_mode(mode), f"routing: {mode}")

    async def action_save(self) -> None:
        from tui.core.commands import Command

        await self.run_command(Command("save"))

    def action_focus_timeline(self) -> None:
        self.query_one("#timeline").focus()

    def action_help(self) -> None:
        from tui.core.commands import HELP

        from .screens import HelpScreen

        self.push_screen(HelpScreen(HELP))

    # ----------------------------------------------------------------- MCP

    @work(group="mcp", exit_on_error=False)
    async def start_mcp(self) -> None:
        from tui.core.mcp.client import McpTools

        servers = {name: d for name, d in self.profile.mcp_servers.items() if name not in self.blocked_servers}
        self._mcp = McpTools(servers, self.env, approve=self.approve_tool)
        if self._controller is not None:
            self._controller.engine.tools = self._mcp
        self._show_servers()
        try:
            problems = await self._mcp.start()
        except Exception as error:
            problems = [f"MCP: {type(error).__name__}: {error}"]
        for problem in problems:
            # Into the stream, like every other event: the timeline, the audit log, the session.
            notice = NoticeEvent(problem)
            self.controller.note(notice)
            self._timeline_event(notice)
            self.notify(problem, title="MCP server", severity="warning", markup=False)
        self._show_servers()

    def _show_servers(self) -> None:
        if self._mcp is None:
            return
        from .routing_panel import RoutingPanel

        for panel in self.query("#routing").results(RoutingPanel):
            panel.show_servers(self._mcp.status)

    async def approve_tool(self, server: str, tool: str, arguments: dict[str, Any]) -> Approval:
        """The ApproveFn: ask in a modal (McpTools remembers 'allow for session')."""
        from .screens import ApprovalScreen

        answer: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()
        self.push_screen(ApprovalScreen(server, tool, arguments),
                         callback=lambda choice: answer.set_result(choice or "deny"))
        return await answer

    async def on_unmount(self) -> None:
        if self._run is not None:
            await self._run.cancel()
        await self.flush_saves()
        if self._controller is not None:
            await self._controller.aclose()
        if self._mcp is not None:
            await self._mcp.aclose()
        if self._stream_worker is not None:
            await self._stream_worker.aclose()


def _warm_up() -> threading.Thread:
    """After the first frame, in a thread: import httpx and Markdown, read the CA bundle,
    and import what httpx imports at its first request (httpcore, h11, anyio: 40-60 ms
    of the first answer's wait), so Enter does not wait for them on the event loop; then
    freeze what is alive so far (modules, the app), which the collector would otherwise
    walk in every full collection: 55-70 ms pauses, four in a 20,000-word answer, each
    one a late key.
    Only modules the event loop's own imports never hold a lock on mid-way (third-party
    ones, and the small module that wraps httpx), so the two threads cannot deadlock."""
    import gc

    def work() -> None:
        try:
            import rich.markdown  # noqa: F401

            from tui.core._httpx import ssl_context

            ssl_context().load_trust()
            import anyio._backends._asyncio  # noqa: F401
            import h11  # noqa: F401
            import httpcore  # noqa: F401
        except Exception:  # noqa: S110 - a warm-up that fails leaves the work to first use
            pass
        gc.freeze()

    thread = threading.Thread(target=work, name="baton-warm-up", daemon=True)
    thread.start()
    return thread


def _records(events: list[TimelineEvent]) -> list[dict[str, Any]]:
    return [e.to_record() for e in events]
