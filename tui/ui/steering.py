"""The app's commands that steer the conversation and its files: branches and
alternatives, rounds to pick from, blind compares and votes, other sessions, saving,
loading, clearing, exporting, money and context. Each is a function of the app's narrow
`Host` surface, so this module never imports the App."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui.core.commands import Command
from tui.core.conversation import Conversation
from tui.core.events import TimelineEvent, TurnEvent

from .chat import ChatPane
from .text import dollars

if TYPE_CHECKING:
    from collections.abc import Mapping

    from textual.geometry import Size
    from textual.screen import Screen

    from tui.core.controller import Controller
    from tui.core.profile import Profile
    from tui.core.run import Run
    from tui.core.types import Message


class Host(Protocol):
    """What these commands need of the app."""

    @property
    def controller(self) -> Controller: ...
    env: Mapping[str, str]
    profile: Profile
    session_path: Path | None
    _blind: list[TimelineEvent] | None
    _editing: str | None
    _trust_request: tuple[str, list[str]] | None
    blocked: dict[str, str]
    blocked_servers: dict[str, str]

    @property
    def active_model(self) -> str | None: ...
    def _remember_written(self, path: Path) -> None: ...
    async def _trust_answered(self, trusted: bool | None) -> None: ...

    @property
    def conversation(self) -> Conversation: ...
    @property
    def size(self) -> Size: ...
    def query_one(self, selector: type[ChatPane]) -> ChatPane: ...
    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None: ...
    def push_screen(self, screen: Screen[Any], callback: Any = None) -> Any: ...
    def prefill(self, text: str) -> None: ...
    def play(self, run: Run, kind: str = "answer") -> Any: ...
    async def cancel_run(self) -> None: ...
    async def show_conversation(self) -> None: ...
    async def save_now(self, path: Path) -> None: ...
    async def run_command(self, command: Command) -> None: ...
    async def _show_question(self, text: str) -> None: ...
    async def _replace(self, profile: Profile, conversation: Conversation, path: Path, blocked: Any = None) -> None: ...
    def _layout(self, width: int) -> None: ...
    def _timeline_event(self, event: TimelineEvent) -> None: ...
    def refresh_routing(self) -> None: ...
    def lock_for(self, path: Path) -> Any: ...
    def hold(self, lock: Any) -> None: ...


async def compare(app: Host, command: Command) -> None:
    prompt = command.text or app.controller.last_prompt()
    if not prompt:
        raise ValueError("give a prompt: /compare M1 M2 -- PROMPT")
    app.controller.check_models(*command.models)
    run = app.controller.engine.compare(prompt, list(command.models))
    await app.cancel_run()
    app._blind = []
    app._layout(app.size.width)  # the routing panel names the active model: hidden
    await app._show_question(prompt)
    app.play(run, "compare")


async def vote(app: Host, command: Command) -> None:
    vote = app.controller.engine.vote(command.text)
    held, app._blind = app._blind or [], None
    app._layout(app.size.width)
    for event in [*held, vote]:
        app._timeline_event(event)
    await app.show_conversation()  # now with the names
    loser = vote.losers[0] if vote.losers else "?"
    verdict = f"a tie between {vote.winner} and {loser}" if vote.tie else f"{vote.winner} over {loser}"
    await app.query_one(ChatPane).add_line(f"🗳 {verdict} ({vote.task_type or 'any task'}); going on from "
                                            f"{vote.winner}'s answer", "info")


async def regen(app: Host, command: Command) -> None:
    await app.cancel_run()
    run = app.controller.engine.regenerate(command.model)
    with_model = f" with {command.model}" if command.model else ""
    await app.query_one(ChatPane).add_line(f"⟲ answering the last question again{with_model}", "info")
    app.play(run)


async def regen_question(app: Host, question_id: str, model: str | None) -> None:
    """Answer an earlier question again: the chat shows the branch up to it, then the new
    answer, an alternative of the old one (which stays in the tree)."""
    await app.cancel_run()
    run = app.controller.engine.regenerate(model, question_id)
    conversation = app.conversation
    chat = app.query_one(ChatPane)
    await chat.show_conversation(conversation.shown(question_id), [e.to_record() for e in conversation.events])
    with_model = f" with {model}" if model else ""
    await chat.add_line(f"⟲ answering this question again{with_model}", "info")
    app.play(run)


def regen_question_with(app: Host, question_id: str) -> None:
    """Choose the model, then answer an earlier question again."""
    from .pickers import Choice, PickerScreen

    models = sorted(app.controller.known_models())

    async def chosen(model: str | None) -> None:
        if model is not None:
            await regen_question(app, question_id, model)

    app.push_screen(PickerScreen("Answer again with", [Choice(m, m) for m in models]), callback=chosen)


async def cost(app: Host, command: Command) -> None:
    """Per model: turns, tokens and cost (unknown stays unknown)."""
    rows: dict[str, list[TurnEvent]] = {}
    for e in app.conversation.events:
        if isinstance(e, TurnEvent):
            rows.setdefault(e.model, []).append(e)
    if not rows:
        raise ValueError("no answers yet: nothing has cost anything")
    chat = app.query_one(ChatPane)
    for model, turns in rows.items():
        tokens = sum(t.usage.get("input_tokens", 0) + t.usage.get("output_tokens", 0) for t in turns)
        known = [t.cost_usd for t in turns if t.cost_usd is not None]
        money = dollars(sum(known)) if known else "cost unknown"
        if known and len(known) < len(turns):
            money += " + unknown"
        await chat.add_line(f"$ {model}: {len(turns)} turns · {tokens:,} tok · {money}", "stats")


async def compact(app: Host, command: Command) -> None:
    await app.cancel_run()
    run = app.controller.engine.compact(command.model)
    await app.query_one(ChatPane).add_line("⇊ summarising older turns…", "info")
    app.play(run, "compact")


async def edit(app: Host, command: Command) -> None:
    question = next((m for m in reversed(app.conversation.path()) if m.role == "user"), None)
    if question is None:
        raise ValueError("no question to edit yet")
    await edit_question(app, question, "your last question")


async def edit_question(app: Host, question: Message, what: str = "this question") -> None:
    """Put a question back in the composer: sending it starts a new branch from before it."""
    app._editing = question.id
    app.prefill(question.content)
    app.notify(f"editing {what}: Enter sends it on a new branch (the old one stays: /tree)", markup=False)


async def pick(app: Host, command: Command) -> None:
    await app.cancel_run()
    n = int(command.text)
    answer = app.controller.engine.pick(n)
    vote = app.conversation.events[-1]  # the pick, recorded as a vote: on the timeline and the leaderboard now
    if vote.type == "vote":
        app._timeline_event(vote)
    app.refresh_routing()
    await app.query_one(ChatPane).add_line(f"↳ going on with answer {n} ({answer.model}) alone", "info")


async def fork(app: Host, command: Command) -> None:
    from tui.core.controller import default_session_path

    await app.cancel_run()
    conversation = app.conversation
    branch = conversation.messages
    ids = {m.id for m in branch}
    events = [e for e in conversation.events if getattr(e, "at", None) in ids or getattr(e, "at", None) is None]
    fork = Conversation(branch, events, conversation.active_model, conversation.title, leaf=conversation.leaf)
    path = Path(command.path).expanduser() if command.path else default_session_path(app.env)
    old = app.session_path
    await app._replace(app.profile, fork, path)
    try:
        await app.save_now(path)
    except Exception as error:
        app.notify(f"forked, but not saved to {path}: {error}", severity="error", markup=False)
        return
    app.notify(f"forked this branch to {path}; {old} stays as it was", markup=False)


async def tree(app: Host, command: Command) -> None:
    from .pickers import Choice, PickerScreen

    conversation = app.conversation
    choices = []
    for leaf in reversed(conversation.leaves()):
        branch = conversation.path(leaf.id)
        question = next((m.content for m in reversed(branch) if m.role == "user"), "")
        mark = "● " if leaf.id == conversation.leaf else "  "
        who = leaf.model or "you"
        label = f"{mark}{' '.join(question.split())[:50]} → {who}: {' '.join(leaf.content.split())[:50]}"
        choices.append(Choice(f"{label} ({len(branch)} messages)", leaf.id))
    if not choices:
        raise ValueError("no branches yet")

    async def chosen(leaf: str | None) -> None:
        if leaf is not None:
            await go_to(app, leaf)

    app.push_screen(PickerScreen("Branches: enter goes on from one", choices), callback=chosen)


async def go_to(app: Host, leaf: str) -> None:
    """Show and go on from another branch."""
    await app.cancel_run()
    app.controller.engine.select(leaf)
    await app.show_conversation()


async def alternative(app: Host, step: int) -> None:
    """Step through the alternatives of the last answer (a regenerated one, a retry)."""
    conversation = app.conversation
    answer = next((m for m in reversed(conversation.path()) if m.role == "assistant" and m.lane is None), None)
    if answer is not None:
        await step_alternative(app, answer, step)


async def step_alternative(app: Host, answer: Message, step: int) -> str | None:
    """Show the answer `step` places from `answer` among its question's answers and go on
    from it (from the latest message under it); returns the id of the one shown."""
    conversation = app.conversation
    alternatives = [m for m in conversation.siblings(answer.id) if m.role == "assistant"]
    if len(alternatives) < 2 or answer not in alternatives:
        app.notify("this answer has no alternatives (/regen makes one)", markup=False)
        return None
    index = (alternatives.index(answer) + step) % len(alternatives)
    await go_to(app, conversation.latest_under(alternatives[index].id))
    app.notify(f"answer {index + 1}/{len(alternatives)}", markup=False)
    return alternatives[index].id


async def sessions(app: Host, command: Command) -> None:
    from tui.core.sessions import list_sessions

    from .pickers import Choice, PickerScreen

    summaries = await asyncio.to_thread(list_sessions, app.env)
    if not summaries:
        raise ValueError("no saved sessions yet")
    choices = []
    for s in summaries:
        cost = dollars(s.cost_usd) if s.cost_usd is not None else "cost unknown"
        models = ", ".join(s.models) or "no answers"
        label = f"{s.date}  {s.title}  · {models} · {s.messages} messages · {cost}"
        choices.append(Choice(label, str(s.path), f"{s.title} {models} {s.date}"))

    async def chosen(path: str | None) -> None:
        if path is not None:
            from tui.core.commands import Command as Cmd

            await app.run_command(Cmd("load", path=path))

    app.push_screen(PickerScreen("Sessions, newest first", choices), callback=chosen)


# ------------------------------------------------------------------ files


async def save(app: Host, command: Command) -> None:
    if not command.path:
        if app.session_path is None:
            raise ValueError("usage: /save PATH (this session has no file yet)")
        await app.save_now(app.session_path)
        app.notify(f"session saved to {app.session_path}", markup=False)
        return
    path = Path(command.path).expanduser()
    lock = None
    try:
        lock = app.lock_for(path)  # another Baton writing that file: not touched
        await app.save_now(path)
    except Exception as error:  # the session keeps saving where it did
        if lock is not None:
            lock.release()
        where = app.session_path or "nowhere yet"
        app.notify(f"not saved to {path}: {error}; the session still saves to {where}",
                    severity="error", markup=False)
        return
    app.hold(lock)
    app.session_path = path
    app.notify(f"saved: this session now saves to {path}", markup=False)


async def load(app: Host, command: Command) -> None:
    import os

    from tui.core import trust
    from tui.core.session import load_session

    path = Path(command.path or "").expanduser()
    profile, conversation = await asyncio.to_thread(load_session, path)
    off = None if trust.is_trusted(path, profile, os.environ) else trust.blocked(profile, str(path))
    await app._replace(profile, conversation, path, off)
    app.notify(f"opened {path}", markup=False)
    if off is not None:
        from .screens import TrustScreen

        app._trust_request = (str(path), trust.exposure(profile).lines())
        app.push_screen(TrustScreen(*app._trust_request), callback=app._trust_answered)


async def clear(app: Host, command: Command) -> None:
    from tui.core.controller import default_session_path

    await app._replace(app.profile, Conversation(active_model=app.active_model),
                        default_session_path(app.env))
    app.notify(f"new session: {app.session_path}", markup=False)


async def profile_save(app: Host, command: Command) -> None:
    from tui.core.env import config_dir
    from tui.core.profile_io import save_profile

    if app.blocked or app.blocked_servers:
        raise ValueError("this profile's file is not trusted: it is not saved where it would be trusted "
                         "(run baton trust on it first)")
    path = (Path(command.path).expanduser() if command.path
            else config_dir(app.env) / "profiles" / f"{app.profile.name}.toml")
    await asyncio.to_thread(save_profile, app.profile, path)
    app._remember_written(path)
    app.notify(f"profile saved to {path}", markup=False)


async def export(app: Host, command: Command) -> None:
    import time

    from tui.core.env import data_dir
    from tui.core.profile_io import atomic_write
    from tui.core.session import export_markdown

    if command.path:
        path = Path(command.path).expanduser()
    elif app.session_path is not None:
        path = app.session_path.with_suffix(".md")
    else:
        path = data_dir(app.env) / "exports" / time.strftime("%Y%m%d-%H%M%S.md")
    await asyncio.to_thread(atomic_write, path, export_markdown(app.conversation))
    app.notify(f"transcript written to {path}", markup=False)
