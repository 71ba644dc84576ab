"""Cut a growing Markdown text into settled pieces and a short live tail.

A streamed answer is shown as a row of pieces that never change once settled, plus one
small tail that is re-rendered as text arrives. Re-rendering stays proportional to the
tail, never to the whole answer. Pieces end at a blank line outside a code fence (a
Markdown block boundary); a tail that grows past `hard` characters without one is cut
at its last line break (closing and reopening a code fence around the cut) or, for one
endless line, at its last space.
"""

from __future__ import annotations

from dataclasses import dataclass

SOFT = 2_000  # a tail longer than this is cut at its last block boundary
HARD = 6_000  # a tail longer than this is cut even inside a block


@dataclass(frozen=True)
class Piece:
    raw: str  # the slice of the answer this piece shows
    source: str  # the Markdown rendered for it (raw, with a code fence reopened or closed)
    joined: bool  # the piece continues the block before it (a cut inside a block)


def _fence_marker(line: str) -> str | None:
    """The fence marker (``` or ~~~, possibly longer) a line opens with, if any."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or stripped[:3] not in ("```", "~~~"):
        return None
    char = stripped[0]
    return stripped[: len(stripped) - len(stripped.lstrip(char))]


class BlockSplitter:
    def __init__(self, soft: int = SOFT, hard: int = HARD) -> None:
        self.soft = soft
        self.hard = hard
        self.tail = ""
        self.opener: str | None = None  # the fence line the tail starts inside, if any
        self.joined = False  # the tail continues the last piece's block

    def tail_source(self) -> str:
        return f"{self.opener}\n{self.tail}" if self.opener is not None else self.tail

    def feed(self, chunk: str) -> list[Piece]:
        """Add `chunk` to the tail; return the pieces that settled."""
        self.tail += chunk
        pieces: list[Piece] = []
        while len(self.tail) > self.soft:
            piece = self._cut()
            if piece is None:
                break
            pieces.append(piece)
        return pieces

    def _cut(self) -> Piece | None:
        """The next piece: up to the last block boundary within `soft` characters, else
        the first within `hard`, else (for a tail longer than `hard`) the last line break
        within `hard`, else the last space."""
        tail = self.tail
        opener = self.opener
        marker = _fence_marker(opener) if opener is not None else None
        boundary = 0
        newline = 0
        fence_at_newline: str | None = None
        pos = 0
        while pos <= self.hard:
            end = tail.find("\n", pos, self.hard + 1)
            if end < 0:
                break
            line = tail[pos:end]
            found = _fence_marker(line)
            if marker is None and found is not None:
                marker, opener = found, line
            elif marker is not None and found is not None and found[0] == marker[0] and \
                    len(found) >= len(marker) and not line.strip()[len(found):]:
                marker, opener = None, None
            elif marker is None and not line.strip():
                following = tail[end + 1 : end + 2]
                if following and following not in " \t\n" and (end + 1 <= self.soft or not boundary):
                    boundary = end + 1
            pos = end + 1
            newline, fence_at_newline = pos, opener if marker is not None else None
            if boundary and pos > self.soft:
                break
        if boundary:
            return self._settle(boundary, None, joined=False)
        if len(tail) <= self.hard:
            return None
        if newline:
            return self._settle(newline, fence_at_newline, joined=True)
        space = tail.rfind(" ", 0, self.hard)
        return self._settle(space + 1 if space > 0 else self.hard, self.opener, joined=True)

    def _settle(self, cut: int, open_fence: str | None, *, joined: bool) -> Piece:
        raw = self.tail[:cut]
        source = f"{self.opener}\n{raw}" if self.opener is not None else raw
        if open_fence is not None:
            marker = _fence_marker(open_fence) or "```"
            source = source + ("" if source.endswith("\n") else "\n") + marker + "\n"
        piece = Piece(raw, source, self.joined)
        self.tail = self.tail[cut:]
        self.opener = open_fence
        self.joined = joined
        return piece


def pieces_of(text: str, soft: int = SOFT, hard: int = HARD) -> tuple[list[Piece], BlockSplitter]:
    """All settled pieces of a whole text, and the splitter holding its tail."""
    splitter = BlockSplitter(soft, hard)
    return splitter.feed(text), splitter
