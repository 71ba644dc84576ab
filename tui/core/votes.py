"""Your own leaderboard: every preference you showed (a blind compare's vote, a pick
after a round, a judge's ranking) as pairwise games, scored with Elo, overall and per
task type. Votes are appended to `votes.jsonl` in the data directory as they happen."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .env import data_dir
from .events import ConsensusEvent, Event, VoteEvent

K = 32.0
START = 1000.0


@dataclass(frozen=True)
class Game:
    """One preference: `winner` over each of `losers` (or a draw with them)."""

    winner: str
    losers: tuple[str, ...]
    tie: bool = False
    task_type: str = ""
    kind: str = "vote"
    time: float = 0.0


@dataclass
class Row:
    model: str
    games: int = 0
    wins: int = 0
    losses: int = 0
    ties: int = 0
    elo: float = START


@dataclass
class Board:
    rows: dict[str, Row] = field(default_factory=dict)

    def row(self, model: str) -> Row:
        return self.rows.setdefault(model, Row(model))

    def play(self, a: str, b: str, score: float) -> None:
        """`score` is a's result: 1 win, 0.5 draw, 0 loss."""
        ra, rb = self.row(a), self.row(b)
        expected = 1 / (1 + 10 ** ((rb.elo - ra.elo) / 400))
        ra.elo += K * (score - expected)
        rb.elo -= K * (score - expected)
        for row, result in ((ra, score), (rb, 1 - score)):
            row.games += 1
            if result == 1:
                row.wins += 1
            elif result == 0:
                row.losses += 1
            else:
                row.ties += 1

    def ranked(self) -> list[Row]:
        return sorted(self.rows.values(), key=lambda r: (-r.elo, r.model))


def games_of(event: Event, task_type: str = "") -> list[Game]:
    """The games an event stands for: a vote, or a judge's ranking (each above each below)."""
    if isinstance(event, VoteEvent):
        return [Game(event.winner, event.losers, event.tie, event.task_type, event.kind, event.time)]
    if isinstance(event, ConsensusEvent) and len(event.ranking) > 1:
        models = [_model_of(lane) for lane in event.ranking]
        return [Game(models[i], tuple(models[i + 1:]), False, task_type, "consensus", event.time)
                for i in range(len(models) - 1)]
    return []


def _model_of(lane: str) -> str:
    return lane.split("#", 1)[0]  # "alpha#2" is alpha asked a second time


def leaderboards(games: Iterable[Game]) -> dict[str, Board]:
    """"" (overall) and each task type -> its board."""
    boards: dict[str, Board] = {"": Board()}
    for game in sorted(games, key=lambda g: g.time):
        for key in {"", game.task_type}:
            board = boards.setdefault(key, Board())
            for loser in game.losers:
                if loser != game.winner:
                    board.play(game.winner, loser, 0.5 if game.tie else 1.0)
    return boards


@dataclass(frozen=True)
class Leader:
    """Who leads a board: the model with the best score, and how often it won."""

    model: str
    games: int
    wins: int
    ties: int

    @property
    def win_rate(self) -> float:
        return (self.wins + self.ties / 2) / self.games


def leaders(games: Iterable[Game]) -> dict[str, Leader]:
    """"" (overall) and each task type -> its leader, for boards with games played."""
    out: dict[str, Leader] = {}
    for key, board in leaderboards(games).items():
        ranked = [r for r in board.ranked() if r.games]
        if ranked:
            top = ranked[0]
            out[key] = Leader(top.model, top.games, top.wins, top.ties)
    return out


def votes_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / "votes.jsonl"


def record(games: Iterable[Game], env: Mapping[str, str] | None = None) -> None:
    """Append games to the votes file (private); a disk that refuses loses no conversation."""
    from .files.tomlfile import append_private

    lines = "".join(json.dumps(g.__dict__ | {"losers": list(g.losers)}) + "\n" for g in games)
    if lines:
        try:
            append_private(votes_path(env), lines)
        except OSError:
            return


def load(env: Mapping[str, str] | None = None) -> list[Game]:
    """Every recorded game; lines that do not fit are skipped."""
    try:
        text = votes_path(env).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[Game] = []
    for line in text.splitlines():
        try:
            d: Any = json.loads(line)
            out.append(Game(str(d["winner"]), tuple(str(x) for x in d["losers"]), bool(d.get("tie", False)),
                            str(d.get("task_type", "")), str(d.get("kind", "vote")), float(d.get("time", 0.0))))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def votes_sink(env: Mapping[str, str] | None = None) -> Callable[[Event], None]:
    """A sink that records every vote and judge ranking of the stream as it passes."""

    def write(event: Event) -> None:
        games = games_of(event)
        if games:
            record(games, env)

    return write

