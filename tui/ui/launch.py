"""`baton` itself: what a profile or session argument opens (trust, odd files, the lock),
then the app. Kept apart from the App so that the App stays a screen and its commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from tui.core.conversation import Conversation
from tui.core.defaults import default_profile
from tui.core.profile import Profile

from .app import BatonApp


def open_args(
    profile_arg: str | None,
    session_arg: str | None,
    env: Mapping[str, str],
    *,
    preview: bool = False,
    read: Callable[[Path], tuple[Profile, Conversation]] | None = None,
) -> dict[str, Any]:
    """What `baton [--profile P] [--session S]` opens: BatonApp's arguments. A file that
    would run commands or send keys and is not trusted opens with those parts off and a
    question. Raises ProfileError or SessionError (one line).

    With `preview`, a long session Baton wrote, whose profile is trusted, opens on the end
    of its active branch (`peek_session`): its conversation is a PreviewConversation whose
    `load` is this same function without `preview`, reading the file with `read` (in a
    child process: `load_session_apart`), which the app runs in a thread after the first
    frame and whose result replaces the preview before anything can run."""
    import os

    from tui.core import trust
    from tui.core.profile_io import find_profile, load_profile
    from tui.core.session import load_session

    conversation = None
    notices: list[str] = []
    source: Path | None = None  # the file whose profile this is
    profile = None
    if profile_arg:
        source = find_profile(profile_arg)
        profile = load_profile(source)
    if session_arg and Path(session_arg).expanduser().exists():
        if preview:
            shown = _preview(profile, source, Path(session_arg).expanduser(), env)
            if shown is not None:
                from tui.core.session_tail import load_session_apart

                load = partial(open_args, profile_arg, session_arg, env, read=load_session_apart)
                shown["conversation"].load = load
                return shown
        session_profile, conversation = (read or load_session)(Path(session_arg).expanduser())
        if profile is None:
            profile, source = session_profile, Path(session_arg).expanduser()
    from tui.core.controller import default_session_path  # (the engine's imports: not for a preview)

    session_path = Path(session_arg).expanduser() if session_arg else default_session_path(env)
    if conversation is not None and conversation.skipped:
        # Saving would drop what could not be read: the file stays as it was.
        notices.append(f"{session_path}: skipped what did not fit ({'; '.join(conversation.skipped[:3])}"
                       f"{' …' if len(conversation.skipped) > 3 else ''}); the file is left as it was")
        session_path = default_session_path(env)
        notices.append(f"this session saves to {session_path}")
    blocked = None
    trust_request = None
    if profile is not None and source is not None and not trust.is_trusted(source, profile, os.environ):
        blocked = trust.blocked(profile, str(source))
        trust_request = (str(source), trust.exposure(profile).lines())
    return {"profile": profile or default_profile(env), "conversation": conversation, "env": env,
            "session_path": session_path, "blocked": blocked, "trust_request": trust_request, "notices": notices}


def _preview(profile: Profile | None, source: Path | None, path: Path, env: Mapping[str, str]) -> dict[str, Any] | None:
    """BatonApp's arguments for the end of the session at `path`, or None: the file is
    not one Baton wrote in its layout, is short, or its profile would ask to be trusted
    (that question comes before anything is shown, from the whole file, as always)."""
    import os
    import shutil

    from tui.core import trust
    from tui.core.session_tail import peek_session

    size = shutil.get_terminal_size()  # the preview holds what fills the screen, not more
    peeked = peek_session(path, (size.columns, size.lines))
    if peeked is None:
        return None
    if profile is None:
        profile, source = peeked.profile, path
    if source is not None and not trust.is_trusted(source, profile, os.environ):
        return None
    # The servers start once the whole file has been read and its profile checked again.
    waiting = trust.Blocked(mcp_servers={name: "off until the session has loaded" for name in profile.mcp_servers})
    return {"profile": profile, "conversation": peeked.conversation, "env": env, "session_path": path,
            "blocked": waiting, "trust_request": None, "notices": []}


def _one_line(text: str) -> str:
    """Outside text (a file's name, its values) for stderr: controls shown, never obeyed."""
    from tui.core.trust import visible

    return " ".join(visible(text).split())


def run(profile_arg: str | None, session_arg: str | None) -> int:
    """`baton`: open the app; a bad profile or session is one line on stderr, status 2."""
    from tui.core.controller import SessionLock
    from tui.core.env import load_environment
    from tui.core.profile_io import ProfileError
    from tui.core.session import SessionError

    env = load_environment()
    try:
        args = open_args(profile_arg, session_arg, env, preview=True)
    except (ProfileError, SessionError) as error:
        print(_one_line(str(error)), file=sys.stderr)
        return 2
    lock = SessionLock(args["session_path"])
    if not lock.acquire():
        print(_one_line(f"baton: {args['session_path']} is open in another Baton; close it there first"),
              file=sys.stderr)
        return 2
    app = BatonApp(**args, stream_worker=True)
    app.session_lock = lock  # it moves with the file the app writes (/save PATH, /load, /clear, ...)
    try:
        app.run()
    finally:
        (app.session_lock or lock).release()
    if app.load_error is not None:  # the whole session, read after the first frame, did not fit
        print(_one_line(app.load_error), file=sys.stderr)
        return 2
    return app.return_code or 0  # 1 when the app stopped on an error of its own (Textual said what)
