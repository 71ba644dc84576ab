"""Command line: `baton` runs the app; subcommands run the same engine headless.

Every failure a person can cause ends in one line on stderr and a documented exit
status (1: the run failed; 2: bad usage or a bad profile), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad usage: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints a usage block; one line is enough
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _models(value: str) -> list[str]:
    models = [m.strip() for m in value.split(",") if m.strip()]
    if not models:
        raise argparse.ArgumentTypeError("expected a comma-separated list of models")
    return models


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="baton", description="Several language models, one conversation.")
    parser.add_argument("--profile", metavar="PATH|NAME", help="profile TOML, or its name")
    parser.add_argument("--session", metavar="PATH", help="session TOML to open (and keep saving to)")
    parser.add_argument("--continue", action="store_true", dest="resume", help="open the most recent session")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    ask = sub.add_parser("ask", help="ask headless; the final answer goes to stdout")
    ask.add_argument("prompt", metavar="PROMPT", help='the prompt, or "-" to read stdin')
    ask.add_argument("--profile", metavar="PATH|NAME", dest="ask_profile")
    ask.add_argument("-m", "--model", metavar="MODEL")
    how = ask.add_mutually_exclusive_group()
    how.add_argument("--chain", type=_models, metavar="M1,M2,...")
    how.add_argument("--pipeline", type=_models, metavar="M1,M2,...")
    how.add_argument("--parallel", type=_models, metavar="M1,M2,...")
    how.add_argument("--consensus", type=_models, metavar="M1,M2,...")
    ask.add_argument("--synth", metavar="M", help="synthesiser for --parallel")
    ask.add_argument("--judge", metavar="M", help="judge for --consensus")
    ask.add_argument("--route", choices=["auto", "manual"], help="auto: route by task type")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    ask.add_argument("--approve-tools", action="store_true", help="allow tools of servers with approve = true")

    profile = sub.add_parser("profile", help="profile tools")
    profile_sub = profile.add_subparsers(dest="profile_command", parser_class=_Parser, required=True)
    validate = profile_sub.add_parser("validate", help="check a profile; errors as PATH:LINE:COL: message")
    validate.add_argument("path", metavar="PATH")
    importer = profile_sub.add_parser(
        "import-mcp", help="mcpServers JSON (Claude Desktop, Cursor, VS Code, oterm) -> [mcp_servers.*]")
    importer.add_argument("file", metavar="FILE")
    importer.add_argument("--into", metavar="PROFILE", help="add to this profile (else print a new one)")

    server = sub.add_parser("mcp-server", help="the handoff MCP server, over stdio")
    server.add_argument("--profile", metavar="PATH|NAME", dest="server_profile")

    trust = sub.add_parser("trust", help="consent to a profile or session that runs commands or sends keys")
    trust.add_argument("path", metavar="PATH")

    sub.add_parser("sessions", help="saved sessions, newest first: path, date, title")
    sub.add_parser("stats", help="your leaderboard from votes, picks and consensus rankings")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "ask":
            return _exiting(asyncio.run(ask(args)))
        if args.command == "profile":
            if args.profile_command == "import-mcp":
                return import_mcp(args.file, args.into)
            return validate_profile(args.path)
        if args.command == "mcp-server":
            from tui.core.mcp.server import serve

            if _refused("baton mcp-server", args.server_profile or args.profile):
                return EXIT_USAGE
            return serve(args.server_profile or args.profile)
        if args.command == "trust":
            return trust_file(args.path)
        if args.command == "sessions":
            return list_sessions()
        if args.command == "stats":
            return stats()
        session = args.session
        if args.resume:
            if session:
                raise UsageError("baton: --continue and --session name two sessions: give one")
            from tui.core.sessions import latest_session

            latest = latest_session()
            if latest is None:
                raise UsageError("baton: no saved session to continue yet")
            session = str(latest)
        from tui.ui.launch import run

        return run(args.profile, session)
    except UsageError as e:
        _say(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of ours: one line for the person, the traceback to a file
        _say(f"baton: internal error: {type(e).__name__}: {e} (details in {_crash_log(e)})")
        return EXIT_FAILED


def _exiting(status: int) -> int:
    """The headless run is over (its client, audit log and tools closed) and the process
    exits next. Its objects are frozen out of the garbage collector, whose passes over all
    of them at interpreter shutdown took 20-30 ms here (a tenth of a short `baton ask`)
    and would free nothing the OS does not take back anyway."""
    import gc

    gc.freeze()
    return status


def _crash_log(exc: BaseException) -> str:
    import traceback

    from tui.core.env import data_dir
    from tui.core.files.tomlfile import append_private

    path = data_dir() / "crash.log"
    try:
        append_private(path, "".join(traceback.format_exception(exc)) + "\n")
    except OSError:
        return "nowhere: the data directory is not writable"
    return str(path)


def import_mcp(file: str, into: str | None) -> int:
    """`baton profile import-mcp FILE [--into PROFILE]`: the TOML on stdout, or written into
    PROFILE (atomically); the servers it adds need `baton trust` before they run."""
    from tui.core.env import load_environment
    from tui.core.files.tomlfile import atomic_write
    from tui.core.mcp.importer import McpImportError, import_mcp_file, merge_into

    try:
        servers = import_mcp_file(file, load_environment())
        text = merge_into(into if into is not None and Path(into).exists() else None, servers)
    except McpImportError as e:
        _say(f"baton profile import-mcp: {e}")
        return EXIT_USAGE
    if into is None:
        sys.stdout.write(text)
        return 0
    try:
        atomic_write(Path(into), text)
    except OSError as e:
        _say(f"baton profile import-mcp: cannot write {into}: {e}")
        return EXIT_USAGE
    names = ", ".join(servers) or "none"
    print(_printable_line(f"{into}: added MCP servers {names}; run baton trust {into} before they start"))
    return 0


def stats() -> int:
    """`baton stats`: per model, games, wins, losses, ties and an Elo score; overall and per task type."""
    from tui.core.votes import leaderboards, load

    boards = leaderboards(load())
    if not boards[""].rows:
        print("no votes yet: /compare M1 M2 and /vote, /pick after a round, or a consensus round")
        return 0
    for key in ["", *sorted(k for k in boards if k)]:
        print(_printable_line(f"== {key or 'overall'}"))
        print(f"{'model':<32} {'games':>5} {'wins':>5} {'losses':>6} {'ties':>5} {'elo':>7}")
        for r in boards[key].ranked():
            name = _printable_line(r.model)[:32]  # columns kept: only the name is outside text
            print(f"{name:<32} {r.games:>5} {r.wins:>5} {r.losses:>6} {r.ties:>5} {r.elo:>7.0f}")
    return 0


def list_sessions() -> int:
    """`baton sessions`: one line each, newest first (the title, or the first question)."""
    from tui.core.sessions import list_sessions as summaries

    for s in summaries():
        print("\t".join(_printable_line(field) for field in (str(s.path), s.date, s.title)))
    return 0


def validate_profile(path: str) -> int:
    from tui.core.profile_io import ProfileError, load_profile

    try:
        profile = load_profile(path)
    except ProfileError as e:
        _say(str(e))
        return EXIT_USAGE
    print(_printable_line(f"{path}: ok ({profile.name}, {len(profile.models)} models)"))
    return 0


def trust_file(path: str) -> int:
    """`baton trust PATH`: say what the file may now do, and record the consent."""
    from tui.core.profile_io import FileFormatError
    from tui.core.trust import exposure, read_profile, trust, visible

    try:
        profile = read_profile(path)
    except FileFormatError as e:
        print(f"baton trust: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    lines = exposure(profile).lines()
    if not lines:
        print(f"{visible(path)}: runs no command and sends no key; nothing to trust")
        return 0
    try:
        trust(path, profile, os.environ)
    except OSError as e:
        print(f"baton trust: cannot record consent: {_one_line(str(e))}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Trusted {visible(path)}; it may now:")
    for line in lines:
        print(f"  {line}")
    return 0


def _one_line(text: str) -> str:
    from tui.core.trust import visible

    return visible(" ".join(text.split("\n")))


def _refused(command: str, arg: str | None, profile: Any = None) -> bool:
    """A profile file that would run commands or send keys without consent: one line, refused.

    `profile` is the one the command will use, when it has loaded it already. Trust is
    decided with the process environment: a `.env` must not move Baton's own directories.
    """
    if not arg:
        return False
    import shlex

    from tui.core.profile_io import FileFormatError, find_profile, load_profile
    from tui.core.trust import is_trusted

    try:
        path = find_profile(arg)
        if profile is None:
            profile = load_profile(path)
    except FileFormatError:
        return False  # the command itself reports a bad profile
    if is_trusted(path, profile, os.environ):
        return False
    print(f"{command}: {_one_line(str(path))} runs commands or sends keys and is not trusted; "
          f"to allow it, run: baton trust {_one_line(shlex.quote(str(path)))}", file=sys.stderr)
    return True


def load_profile_arg(arg: str | None, env: dict[str, str]):
    if not arg:
        from tui.core.defaults import default_profile

        return default_profile(env)
    from tui.core.profile_io import find_profile, load_profile

    return load_profile(find_profile(arg))


async def ask(args: argparse.Namespace) -> int:
    from tui.core.env import load_environment
    from tui.core.models import ModelError

    env = load_environment()
    arg = args.ask_profile or args.profile
    if arg:  # the profile file reader (TOML, schema) only when there is a file to read
        from tui.core.profile_io import ProfileError

        try:
            profile = load_profile_arg(arg, env)
        except ProfileError as e:
            _say(str(e))
            return EXIT_USAGE
        if _refused("baton ask", arg, profile):
            return EXIT_USAGE
    else:
        profile = load_profile_arg(None, env)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        _say("baton ask: the prompt is empty")
        return EXIT_USAGE
    if args.synth and not args.parallel:
        _say("baton ask: --synth goes with --parallel")
        return EXIT_USAGE
    if args.consensus and not (args.judge or profile.consensus.judge):
        _say("baton ask: --consensus needs --judge M")
        return EXIT_USAGE
    try:
        return await _ask(args, profile, env, prompt)
    except ModelError as e:
        _say(f"baton ask: {e}")
        return EXIT_USAGE


async def _ask(args: argparse.Namespace, profile: Any, env: dict[str, str], prompt: str) -> int:
    from tui.core.audit import default_audit_log, json_pieces
    from tui.core.controller import Controller, audit_sink
    from tui.core.events import (
        FallbackEvent,
        RetryEvent,
        RunCancelled,
        RunFailed,
        RunFinished,
        TextDelta,
        TimelineEvent,
        TurnStarted,
    )
    from tui.core.votes import votes_sink

    if args.route:
        profile.routing.mode = args.route
    tools = await _start_tools(profile, env, args.approve_tools)
    audit = default_audit_log(env)
    controller = Controller(profile, env, sinks=[audit_sink(audit), votes_sink(env)], tools=tools)
    engine = controller.engine
    try:
        synth = controller.synthesizer(args.parallel, args.synth) if args.parallel else None
        judge = controller.judge(args.judge) if args.consensus else None
        controller.check_models(args.model, synth, judge, *(args.chain or []), *(args.pipeline or []),
                                *(args.parallel or []), *(args.consensus or []))
        if args.model:
            engine.set_model(args.model)
        stages = controller.stages(args.pipeline) if args.pipeline else []
        if args.chain:
            run, wanted = engine.chain(prompt, args.chain), "answer"
        elif args.pipeline:
            run, wanted = engine.pipeline(prompt, stages), "stage"
        elif args.parallel:
            run, wanted = engine.parallel(prompt, args.parallel, synth), "synthesis"
        elif args.consensus:
            run, wanted = engine.consensus(prompt, args.consensus, judge or ""), "none"
        else:
            run, wanted = controller.send(prompt), "answer"

        out = _Output(sys.stdout)
        stages_done = 0
        streaming = False
        why = ""  # the last retry or fallback, said when it restarts an answer already printed
        records: list[dict[str, Any]] = []
        async for first in run:
            for ev in [first, *run.pending()]:  # what queued while we wrote: one write, one flush
                if isinstance(ev, TextDelta):
                    if streaming:
                        out.write(ev.text)
                elif isinstance(ev, TimelineEvent):
                    records.append(ev.to_record())
                    if ev.type == "stage":
                        stages_done += 1
                    if isinstance(ev, RetryEvent):
                        why = f"retry {ev.attempt} of {ev.model} ({ev.error})"
                    elif isinstance(ev, FallbackEvent):
                        why = f"fallback from {ev.from_model} to {ev.to_model} ({ev.error})"
                elif isinstance(ev, TurnStarted):
                    was = streaming
                    streaming = (not args.json and ev.lane is None and ev.purpose == wanted
                                 and (wanted != "stage" or stages_done + 1 == len(stages)))
                    if was and streaming and out.printed:
                        # A retry or fallback answers again: what matches the text already
                        # printed is not printed twice; where it differs, a new line starts.
                        _say(f"baton ask: {why or 'a new turn'}: {ev.model} answers again")
                        out.restart()
                        why = ""
                elif isinstance(ev, (RunFailed, RunCancelled)):
                    out.end_line()
                    error = ev.error if isinstance(ev, RunFailed) else "cancelled"
                    _say(f"baton ask: {error}")
                    return EXIT_FAILED
                elif isinstance(ev, RunFinished):
                    if args.json:  # written in pieces: a huge answer is never copied whole
                        for piece in json_pieces({
                            "final_output": ev.final_output,
                            "model": ev.model,
                            "events": records,
                            "alternatives": _alternatives(engine.conversation),
                            "usage": ev.usage.to_dict(),
                            "cost_usd": ev.cost_usd,
                        }, default=None):
                            out.write_raw(piece)
                        out.write_raw("\n")
                    elif out.printed:
                        out.end_line()
                    else:
                        out.write(ev.final_output)
                        out.end_line()
                    out.flush()
                    return 0
            out.flush()
        return EXIT_FAILED
    finally:
        await controller.aclose()
        audit.close()
        if tools is not None:
            await tools.aclose()


def _alternatives(conversation: Any) -> list[dict[str, Any]]:
    """The answers to the question, each with whether the conversation goes on from it."""
    on_path = {m.id for m in conversation.path()}
    return [{"model": m.model, "text": m.content, "lane": m.lane, "partial": m.partial, "chosen": m.id in on_path}
            for m in conversation.answers()]


class _Output:
    """The answer on stdout: escapes made visible on a terminal, sent as is to a pipe.
    Each piece of text is printed once, even when a retry sends it again."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.printed = False
        self.at_line_start = True
        self._sent: list[str] = []  # the current answer as printed
        self._replay = ""  # what a restarted answer has still to repeat before it is new
        self._replay_at = 0

    def restart(self) -> None:
        self._replay, self._replay_at, self._sent = "".join(self._sent), 0, []

    def write(self, text: str) -> None:
        if self._replay:
            same = 0
            while (same < len(text) and self._replay_at + same < len(self._replay)
                   and text[same] == self._replay[self._replay_at + same]):
                same += 1
            self._sent.append(text[:same])
            self._replay_at += same
            text = text[same:]
            if not text:
                return
            if self._replay_at < len(self._replay):  # the new answer parts from the old one here
                self.end_line()
            self._replay = ""
        if text:
            self._sent.append(text)
            self.write_raw(_printable(text) if self.tty else text)
            self.printed = True
            self.at_line_start = text.endswith("\n")

    def write_raw(self, text: str) -> None:
        self.stream.write(text)

    def end_line(self) -> None:
        if self.printed and not self.at_line_start:
            self.stream.write("\n")
        self.printed = False
        self.at_line_start = True
        self.flush()

    def flush(self) -> None:
        self.stream.flush()


def _say(line: str) -> None:
    print(_printable_line(line), file=sys.stderr, flush=True)


def _printable_line(text: str) -> str:
    return " ".join(_printable(text).split())


def _printable(text: str) -> str:
    """Outside text for a terminal: escape sequences and other controls are made
    visible, never interpreted (newlines and tabs pass)."""
    from tui.core.text import neutralise

    return text if text.isprintable() else neutralise(text)


async def _start_tools(profile: Any, env: dict[str, str], approve_all: bool):
    if not profile.mcp_servers:
        return None
    from tui.core.mcp.client import McpTools
    from tui.core.tools import Approval

    async def approve(server: str, tool: str, arguments: dict[str, Any]) -> Approval:
        return "session"

    tools = McpTools(profile.mcp_servers, env, approve=approve if approve_all else None)
    for problem in await tools.start():
        _say(f"baton: {problem}")
    return tools
