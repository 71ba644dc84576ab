"""Slash commands: what the person can type, parsed into a `Command` (no terminal code:
the app and its palette both use it)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .profile import Profile

USAGE: dict[str, str] = {
    "model": "/model M",
    "handoff": "/handoff M [--back] [--edit] [instructions]",
    "route": "/route auto|manual",
    "parallel": "/parallel M1 M2 ... [--synth M] [PROMPT]",
    "consensus": "/consensus M1 M2 ... --judge M [PROMPT]",
    "save": "/save [PATH]",
    "load": "/load PATH",
    "profile": "/profile save [PATH]",
    "export": "/export [PATH]",
    "regen": "/regen [M]",
    "compact": "/compact [M]",
    "cost": "/cost",
    "edit": "/edit",
    "fork": "/fork [PATH]",
    "pick": "/pick N",
    "tree": "/tree",
    "sessions": "/sessions",
    "compare": "/compare M1 M2 [PROMPT]",
    "vote": "/vote A|B|tie",
    "clear": "/clear",
    "help": "/help",
}

HELP = """\
# Baton

Type a message and press **Enter** to send it. **ctrl+j** inserts a new line
(so does **shift+enter** in terminals that report it).

| command | what it does |
|---|---|
| `/model M` | answer with model M from now on |
| `/handoff M` | hand the conversation to M with a package; `--back`: it returns after, `--edit`: review it |
| `/route auto\\|manual` | let routing rules pick the model, or keep the active one |
| `/parallel M1 M2 ...` | ask several models at once; `--synth M` synthesises |
| `/consensus M1 M2 ...` | several answers, ranked by a judge: `--judge M` |
| `/compare M1 M2` | two answers as A and B, names hidden; then `/vote A\\|B\\|tie` |
| `/regen [M]` | answer the last question again (with M); both answers stay |
| `/edit` | your last question back in the composer; sending it starts a new branch |
| `/pick N` | after a round, go on with answer N alone |
| `/tree` · `/sessions` | jump to another branch · open another session |
| `/fork [PATH]` | copy this branch into a new session and go on there |
| `/cost` | what each model has cost this session (the total is on the status line) |
| `/compact [M]` | older turns replaced by a summary (by M); the originals stay in the session |
| `/save [PATH]` · `/load PATH` | save or open a session |
| `/profile save [PATH]` | write the profile (models, routes, rules) as TOML |
| `/export [PATH]` | write the transcript as Markdown |
| `/clear` · `/help` | start over in a new session file · this help |

Without a PROMPT, a round re-asks your last message. Put `--` before a prompt that
starts with a model's name.

| key | action |
|---|---|
| escape | cancel the answer that is streaming (what arrived stays) |
| ctrl+o · ctrl+b | copy the last answer · the last code block in it |
| ctrl+r | switch routing between auto and manual |
| ctrl+s | save the session |
| ctrl+t | focus the timeline; enter on a line shows its details |
| alt+left · alt+right | show the previous · next alternative of the last answer |
| ctrl+p | command palette |
| ctrl+q | quit |
"""

_TOKEN = re.compile(r"\S+")
_MODEL_LIKE = re.compile(r"^(?:[\w.-]+/[\w.:/-]+|claude-\S+|gpt-\S+|chatgpt-\S+|o[134]\S*)$")


class CommandError(ValueError):
    """A command that cannot run as typed; the message is one line for the person."""


@dataclass(frozen=True)
class Command:
    name: str
    model: str | None = None  # /model, /handoff target
    text: str = ""  # handoff instructions, round prompt
    mode: str | None = None  # /route
    models: tuple[str, ...] = ()  # round members
    synth: str | None = None
    judge: str | None = None
    path: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _path_arg(name: str, rest: str, *, required: bool) -> str | None:
    try:
        parts = shlex.split(rest)
    except ValueError as error:
        raise CommandError(f"{USAGE[name]}: {error}") from None
    if len(parts) > 1:
        raise CommandError(f"usage: {USAGE[name]} (quote a path with spaces)")
    if required and not parts:
        raise CommandError(f"usage: {USAGE[name]}")
    return parts[0] if parts else None


def _round(name: str, rest: str, known: Collection[str]) -> Command:
    """Models while tokens look like models (or until `--`), options anywhere among them,
    then the prompt as typed."""
    models: list[str] = []
    options: dict[str, str] = {}
    prompt = ""
    tokens = list(_TOKEN.finditer(rest))
    i = 0
    while i < len(tokens):
        word = tokens[i].group()
        if word == "--":
            prompt = rest[tokens[i].end():].strip()
            break
        if word in ("--synth", "--judge"):
            if i + 1 >= len(tokens):
                raise CommandError(f"{word} needs a model: {USAGE[name]}")
            key = word[2:]
            if (name, key) not in (("parallel", "synth"), ("consensus", "judge")):
                raise CommandError(f"/{name} has no {word}: {USAGE[name]}")
            options[key] = tokens[i + 1].group()
            i += 2
            continue
        if word.startswith("--"):
            raise CommandError(f"unknown option {word}: {USAGE[name]}")
        if word in known or _MODEL_LIKE.match(word):
            models.append(word)
            i += 1
            continue
        prompt = rest[tokens[i].start():].strip()
        break
    return Command(
        name, models=tuple(models), synth=options.get("synth"), judge=options.get("judge"), text=prompt
    )


def parse_command(line: str, known_models: Collection[str] = ()) -> Command:
    """Parse a slash command; CommandError (one line) if it is unknown or malformed."""
    head, _, rest = line.strip().partition(" ")
    name = head[1:].lower()
    rest = rest.strip()
    if name not in USAGE:
        raise CommandError(f"unknown command {head!r}: /help lists the commands")
    if name == "compact":
        if " " in rest:
            raise CommandError(f"usage: {USAGE[name]}")
        return Command(name, model=rest or None)
    if name == "regen":
        if " " in rest:
            raise CommandError(f"usage: {USAGE[name]}")
        return Command(name, model=rest or None)
    if name == "pick":
        if not rest.isdigit() or int(rest) < 1:
            raise CommandError(f"usage: {USAGE[name]} (N: the answer's column, from 1)")
        return Command(name, text=rest)
    if name in ("clear", "help", "edit", "tree", "sessions", "cost"):
        if rest:
            raise CommandError(f"usage: {USAGE[name]}")
        return Command(name)
    if name == "model":
        if not rest or " " in rest:
            raise CommandError(f"usage: {USAGE[name]}")
        return Command(name, model=rest)
    if name == "handoff":
        target, _, instructions = rest.partition(" ")
        if not target or target.startswith("--"):
            raise CommandError(f"usage: {USAGE[name]}")
        flags: dict[str, str] = {}
        words = instructions.split()
        while words and words[0] in ("--back", "--edit"):
            flags[words.pop(0)[2:]] = "yes"
        instructions = instructions.strip()
        for flag in flags:
            instructions = instructions.removeprefix(f"--{flag}").strip()
        return Command(name, model=target, text=instructions, extra=flags)
    if name == "route":
        if rest not in ("auto", "manual"):
            raise CommandError(f"usage: {USAGE[name]}")
        return Command(name, mode=rest)
    if name in ("parallel", "consensus"):
        return _round(name, rest, known_models)
    if name == "compare":
        command = _round(name, rest, known_models)
        if len(command.models) != 2:
            raise CommandError(f"usage: {USAGE[name]} (two models)")
        return command
    if name == "vote":
        if rest.lower() not in ("a", "b", "tie"):
            raise CommandError(f"usage: {USAGE[name]}")
        return Command(name, text=rest.lower())
    if name == "profile":
        sub, _, path_text = rest.partition(" ")
        if sub != "save":
            raise CommandError(f"usage: {USAGE[name]}")
        return Command("profile_save", path=_path_arg(name, path_text, required=False))
    return Command(name, path=_path_arg(name, rest, required=name == "load"))


def palette(profile: Profile, active_model: str | None) -> list[tuple[str, str, Command | str]]:
    """The command palette's entries: (title, usage, the command to run, or the text to put
    in the composer when the command needs something only the person can say)."""
    models = sorted({*profile.models, *(m for m in (active_model,) if m)})
    judge = profile.consensus.judge
    entries: list[tuple[str, str, Command | str]] = [
        *((f"Model: {m}", f"/model {m}", Command("model", model=m)) for m in models),
        *((f"Hand off to {m}", f"/handoff {m}", Command("handoff", model=m)) for m in models),
        ("Route: auto", "/route auto", Command("route", mode="auto")),
        ("Route: manual", "/route manual", Command("route", mode="manual")),
        ("Parallel round…", USAGE["parallel"], "/parallel " + " ".join(profile.parallel.models) + " "),
        ("Consensus round…", USAGE["consensus"],
         "/consensus " + " ".join(profile.consensus.models) + (f" --judge {judge} " if judge else " ")),
        ("Blind compare…", USAGE["compare"], "/compare "),
        ("Save session", "/save", Command("save")),
        ("Load session…", "/load PATH", "/load "),
        ("Save profile", "/profile save", Command("profile_save")),
        ("Export transcript", "/export", Command("export")),
        ("Clear conversation", "/clear", Command("clear")),
        ("Answer again", USAGE["regen"], Command("regen")),
        ("Edit the last question", "/edit", Command("edit")),
        ("Fork this branch", USAGE["fork"], Command("fork")),
        ("Branches…", "/tree", Command("tree")),
        ("Sessions…", "/sessions", Command("sessions")),
        ("Compact older turns", USAGE["compact"], Command("compact")),
        ("Cost per model", "/cost", Command("cost")),
    ]
    return entries
