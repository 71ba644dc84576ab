"""Opening a long session on its end: peek_session and open_args(preview=True)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.core import trust
from tui.core.controller import Controller
from tui.core.conversation import Conversation
from tui.core.preview import PreviewConversation, StillLoading
from tui.core.profile import McpServerDef, ModelDef, Profile, ProviderDef
from tui.core.session import SessionError, load_session, save_session, session_to_dict
from tui.core.session_tail import SHOWN, load_session_apart, peek_session
from tui.core.types import Message
from tui.ui.launch import open_args


def profile() -> Profile:
    return Profile(name="long", default_model="alpha",
                   providers={"fake": ProviderDef(kind="openai", base_url="http://127.0.0.1:9/v1")},
                   models={"alpha": ModelDef(model="fake/alpha")})


def long_conversation(pairs: int, content: str = "answer {i}") -> Conversation:
    messages = []
    events = []
    for i in range(pairs):
        messages.append(Message("user", f"question {i}"))
        messages.append(Message("assistant", content.format(i=i), "alpha"))
        events.append({"type": "turn", "model": "alpha", "text": content.format(i=i), "time": 1700000000.0 + i})
    return Conversation(messages, events, active_model="alpha")


def saved(tmp_path: Path, conversation: Conversation, name: str = "long.toml") -> Path:
    path = tmp_path / name
    save_session(path, profile(), conversation)
    return path


def test_the_tail_is_the_end_of_the_active_branch_as_the_whole_file_reads_it(tmp_path: Path) -> None:
    path = saved(tmp_path, long_conversation(1000))
    peeked = peek_session(path)
    assert peeked is not None
    whole_profile, whole = load_session(path)
    assert peeked.profile == whole_profile
    shown = peeked.conversation
    assert isinstance(shown, PreviewConversation)
    assert len(shown.nodes) == SHOWN < len(whole.nodes)
    assert shown.messages == whole.messages[-SHOWN:]
    assert (shown.leaf, shown.title, shown.active_model) == (whole.leaf, whole.title, whole.active_model)
    assert shown.events == whole.events[-len(shown.events):]


def test_the_tail_holds_what_fills_the_screen_not_more(tmp_path: Path) -> None:
    path = saved(tmp_path, long_conversation(400, "answer {i}\n\n" + "a line of forty characters, more or less\n" * 5))
    whole = load_session(path)[1]
    small = peek_session(path, (80, 24))
    tall = peek_session(path, (80, 100))
    assert small is not None and tall is not None
    assert 4 <= len(small.conversation.nodes) < len(tall.conversation.nodes) <= SHOWN
    assert small.conversation.messages == whole.messages[-len(small.conversation.nodes):]
    assert sum(m.content.count("\n") + 3 for m in small.conversation.messages) >= 24


def test_the_tail_follows_the_leaf_onto_an_older_branch(tmp_path: Path) -> None:
    conversation = long_conversation(400)
    older = conversation.path()[-41]  # an answer 20 questions back: a branch goes on from there
    conversation.select(older.id)
    for i in range(30):
        conversation._add(Message("user", f"branch question {i}", id=f"b{i}q", parent=conversation.leaf))
        conversation._add(Message("assistant", f"branch answer {i}", "alpha", id=f"b{i}a", parent=f"b{i}q"))
    conversation.select(older.id)  # the file's leaf: the older branch, written before the newer one
    path = saved(tmp_path, conversation)
    peeked = peek_session(path)
    whole = load_session(path)[1]
    assert peeked is not None and whole.leaf == older.id
    assert peeked.conversation.messages == whole.messages[-SHOWN:]
    assert not any("branch" in m.content for m in peeked.conversation.messages)


def test_table_headers_inside_answers_do_not_fool_the_cuts(tmp_path: Path) -> None:
    content = "answer {i}\n[[messages]]\nid = \"fake\"\n[[events]]\ntype = \"turn\"\n"
    path = saved(tmp_path, long_conversation(400, content))
    peeked = peek_session(path)
    whole = load_session(path)[1]
    if peeked is not None:  # a cut inside an answer does not parse; one before it does
        assert peeked.conversation.messages == whole.messages[-SHOWN:]
    args = open_args(None, str(path), {}, preview=True)
    if isinstance(args["conversation"], PreviewConversation):
        args = args["conversation"].load()
    assert args["conversation"] == whole


@pytest.mark.parametrize("edit", ["crlf", "profile after", "events first", "comment", "short"])
def test_files_not_in_bantons_layout_are_read_whole_as_before(tmp_path: Path, edit: str) -> None:
    path = saved(tmp_path, long_conversation(400 if edit != "short" else 1))
    text = path.read_text()
    head, rest = text.split("[[messages]]", 1)
    messages, events = ("[[messages]]" + rest).split("[[events]]", 1)
    if edit == "crlf":
        text = text.replace("\n", "\r\n")
    elif edit == "profile after":
        text = text + '\n[profile.models.beta]\nmodel = "fake/beta"\n'
    elif edit == "events first":
        text = head + "[[events]]" + events + messages
    elif edit == "comment":
        text = "# sent by a friend\n" + text
    path.write_bytes(text.encode())
    assert peek_session(path) is None
    args = open_args(None, str(path), {}, preview=True)
    assert args == open_args(None, str(path), {})
    assert not isinstance(args["conversation"], PreviewConversation)
    if edit == "profile after":
        assert "beta" in args["profile"].models


def test_a_profile_that_would_ask_to_be_trusted_is_read_whole_and_asked_about_first(tmp_path: Path) -> None:
    conversation = long_conversation(400)
    path = tmp_path / "sent.toml"
    sent = profile()
    sent.mcp_servers = {"tool": McpServerDef(command="/bin/echo", args=["hi"])}
    save_session(path, sent, conversation)
    assert peek_session(path) is not None  # Baton's layout, but not trusted here
    args = open_args(None, str(path), {}, preview=True)
    assert not isinstance(args["conversation"], PreviewConversation)
    assert args["trust_request"] is not None and "tool" in args["blocked"].mcp_servers
    trust.trust(path, sent, os.environ)
    shown = open_args(None, str(path), {}, preview=True)
    assert isinstance(shown["conversation"], PreviewConversation)
    assert shown["blocked"].mcp_servers == {"tool": "off until the session has loaded"}
    whole = shown["conversation"].load()
    assert whole["blocked"] is None and whole["conversation"] == load_session(path)[1]


def test_a_corrupted_tail_gives_the_whole_files_one_line_error(tmp_path: Path) -> None:
    path = saved(tmp_path, long_conversation(400))
    text = path.read_text()
    cut = text.rindex('role = "assistant"')
    path.write_text(text[:cut] + 'role = "assistant\n' + text[cut + len('role = "assistant"'):])
    assert peek_session(path) is None
    with pytest.raises(SessionError) as preview_error:
        open_args(None, str(path), {}, preview=True)
    with pytest.raises(SessionError) as whole_error:
        load_session(path)
    assert str(preview_error.value) == str(whole_error.value)
    assert "\n" not in str(preview_error.value) and str(path) in str(preview_error.value)


def test_a_corrupted_middle_shows_the_tail_then_fails_in_one_line(tmp_path: Path) -> None:
    path = saved(tmp_path, long_conversation(400))
    text = path.read_text()
    path.write_text(text.replace('content = "question 10"', 'content = "question 10', 1))
    args = open_args(None, str(path), {}, preview=True)
    assert isinstance(args["conversation"], PreviewConversation)
    with pytest.raises(SessionError) as error:
        args["conversation"].load()
    assert str(error.value).startswith(f"{path}:") and "\n" not in str(error.value)


def test_a_preview_is_never_saved_and_nothing_runs_on_it(tmp_path: Path) -> None:
    path = saved(tmp_path, long_conversation(400))
    peeked = peek_session(path)
    assert peeked is not None
    with pytest.raises(StillLoading):
        session_to_dict(peeked.profile, peeked.conversation)
    with pytest.raises(StillLoading):
        Controller(peeked.profile, {}, peeked.conversation)


def test_the_whole_file_read_apart_is_the_same_as_read_here(tmp_path: Path) -> None:
    path = saved(tmp_path, long_conversation(400))
    assert load_session_apart(path) == load_session(path)
    path.write_text(path.read_text().replace('content = "question 10"', 'content = "question 10', 1))
    with pytest.raises(SessionError) as apart:
        load_session_apart(path)
    with pytest.raises(SessionError) as here:
        load_session(path)
    assert str(apart.value) == str(here.value) and apart.value.line == here.value.line
