"""Saved sessions as a list: newest first, each summed up from its file without reading
it whole (a long session is megabytes; a picker shows dozens)."""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .env import data_dir

_TITLE = re.compile(r'^title = (".*")$', re.MULTILINE)
_MODEL = re.compile(r'^model = ("[^"\n]*")$', re.MULTILINE)
_COST = re.compile(r"^cost_usd = ([0-9.eE+-]+)$", re.MULTILINE)
_FIRST_QUESTION = re.compile(r'^role = "user"\ncontent = (".*")$', re.MULTILINE)


@dataclass(frozen=True)
class SessionSummary:
    path: Path
    modified: float
    title: str
    models: tuple[str, ...]
    messages: int
    cost_usd: float | None

    @property
    def date(self) -> str:
        return datetime.datetime.fromtimestamp(self.modified).strftime("%Y-%m-%d %H:%M")


def _parsed(path: Path, modified: float, text: str) -> SessionSummary | None:
    """A small file read whole (tomli-w writes short arrays of tables inline)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    messages = [m for m in data.get("messages", []) if isinstance(m, dict)]
    title = data.get("title") if isinstance(data.get("title"), str) else ""
    if not title:
        title = next((str(m.get("content", "")) for m in messages if m.get("role") == "user"), "")
    models = tuple(dict.fromkeys(str(m["model"]) for m in messages if isinstance(m.get("model"), str)))
    costs = [float(e["cost_usd"]) for e in data.get("events", [])
             if isinstance(e, dict) and isinstance(e.get("cost_usd"), (int, float))]
    return SessionSummary(path, modified, " ".join(str(title).split())[:100] or "(empty)", models, len(messages),
                          round(sum(costs), 6) if costs else None)


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "sessions"


def _string(literal: str) -> str:
    """A TOML basic string as written on one line (escapes and all)."""
    try:
        value = tomllib.loads(f"v = {literal}")["v"]
    except tomllib.TOMLDecodeError:
        return ""
    return value if isinstance(value, str) else ""


FULL_PARSE_BYTES = 512 * 1024


def summarize(path: Path) -> SessionSummary | None:
    """What a picker shows of one session file, or None if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        modified = path.stat().st_mtime
    except OSError:
        return None
    if len(text) <= FULL_PARSE_BYTES:
        return _parsed(path, modified, text)
    head = _TITLE.search(text, 0, 4096)
    title = _string(head.group(1)) if head else ""
    if not title:
        first = _FIRST_QUESTION.search(text)
        title = _string(first.group(1)) if first else ""
    title = " ".join(title.split())[:100] or "(empty)"
    found: list[str] = []
    for block in text.split("[[messages]]")[1:]:  # who wrote each message, not the profile's table
        match = _MODEL.search(block.split("\n[", 1)[0])
        if match:
            found.append(_string(match.group(1)))
    models = tuple(dict.fromkeys(found))
    costs = [float(c) for c in _COST.findall(text)]
    return SessionSummary(path, modified, title, tuple(m for m in models if m), text.count("[[messages]]"),
                          round(sum(costs), 6) if costs else None)


def list_sessions(env: Mapping[str, str] | None = None) -> list[SessionSummary]:
    """Every saved session, newest first."""
    folder = sessions_dir(env)
    try:
        paths = [p for p in folder.glob("*.toml") if p.is_file()]
    except OSError:
        return []
    out = [s for s in map(summarize, paths) if s is not None]
    out.sort(key=lambda s: s.modified, reverse=True)
    return out


def latest_session(env: Mapping[str, str] | None = None) -> Path | None:
    """The most recently written session (for `baton --continue`)."""
    folder = sessions_dir(env)
    try:
        paths = [p for p in folder.glob("*.toml") if p.is_file()]
    except OSError:
        return None
    return max(paths, key=lambda p: p.stat().st_mtime, default=None)


PROMPTS_KEPT = 500


def prompts_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "prompts.jsonl"


def read_prompts(env: Mapping[str, str] | None = None) -> list[str]:
    """Prompts sent in any session, oldest first (at most the last PROMPTS_KEPT)."""
    import json

    try:
        lines = prompts_path(env).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    out: list[str] = []
    for line in lines[-PROMPTS_KEPT:]:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, str) and (not out or out[-1] != value):
            out.append(value)
    return out


def remember_prompt(text: str, env: Mapping[str, str] | None = None) -> None:
    """Append a prompt to the history (private); trimmed back when it grows past twice the cap."""
    import json

    from .files.tomlfile import append_private, atomic_write

    path = prompts_path(env)
    try:
        append_private(path, json.dumps(text) + "\n")
        if path.stat().st_size > 1_000_000:
            kept = path.read_text(encoding="utf-8", errors="replace").splitlines()[-PROMPTS_KEPT:]
            atomic_write(path, "\n".join(kept) + "\n")
    except OSError:
        return
