"""One model's answer, streamed or stored.

Streaming keeps up with the fastest providers by doing little per chunk: `write` only
appends to a buffer; at most once per frame (`FLUSH_S`) the buffer is handed to a
`BlockSplitter`, the blocks that settled are mounted once as Rich Markdown and never
touched again, and only the short live tail is re-rendered. Past `CAP` characters the
rest of the answer is folded: kept in the message, shown a cap at a time on request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.timer import Timer
from textual.widgets import Static

from .blocks import BlockSplitter, Piece
from .text import visible

if TYPE_CHECKING:
    from rich.markdown import Markdown as RichMarkdown
    from textual import events

PURPOSE_LABELS = {"synthesis": "synthesis", "judge": "judge", "stage": "stage", "check": "check", "consult": "consult",
                  "summary": "summary"}
FLUSH_S = 1 / 30  # streamed text reaches the screen at most this often
CAP = 200_000  # characters shown before the rest is folded
SMALL = 4_000  # a stored answer up to this size is one widget


def _markdown(source: str) -> RichMarkdown:
    # markdown-it and Rich's Markdown are imported with the first answer, not at start-up.
    from rich.markdown import Markdown as RichMarkdown

    return RichMarkdown(visible(source))


class Block(Static):
    """A settled piece of an answer: rendered once, and measured once per width.

    Textual keeps one height per widget, for the last width asked. A round's columns are
    laid out a cell wider and narrower by turns (the row shared out in three), so every
    block of every column was wrapped again on most frames while the round streamed."""

    def __init__(self, piece: Piece, gap: bool) -> None:
        super().__init__(_markdown(piece.source), classes="body -gap" if gap else "body")
        self.raw = piece.raw
        self._heights: dict[int, int] = {}

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        height = self._heights.get(width)
        if height is None:
            if len(self._heights) > 8:  # a terminal resized again and again
                self._heights.clear()
            height = self._heights[width] = super().get_content_height(container, viewport, width)
        return height

    def notify_style_update(self) -> None:
        self._heights.clear()
        super().notify_style_update()


class Fold(Static, can_focus=True):
    """The folded rest of a huge answer; enter or a click shows the next part."""

    BINDINGS: ClassVar[list[BindingType]] = [("enter", "open", "show more")]

    def action_open(self) -> None:
        answer = next((a for a in self.ancestors if isinstance(a, AnswerView)), None)
        if answer is not None:
            answer.unfold()

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_open()


class AnswerView(Vertical):
    """One model's answer: a label naming the model, then its Markdown."""

    def __init__(
        self,
        model: str,
        text: str = "",
        *,
        purpose: str = "answer",
        partial: bool = False,
        settled: bool = False,
        alternative: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(classes="answer")
        self.settled = settled
        self.alternative = alternative  # (n, of): its place among its question's answers
        self.model = model
        self.purpose = purpose
        self.partial = partial
        self._parts: list[str] = [text] if text else []  # all text received, joined lazily
        self._length = len(text)
        self._pending: list[str] = []  # written, not yet on screen
        self._timer: Timer | None = None
        self._splitter = BlockSplitter()
        self._shown = 0  # characters handed to the splitter
        self._pieces = 0  # settled blocks mounted
        self._cap = CAP
        self._tail: Static | None = None
        self._live = not settled
        self.set_class(partial, "-partial")

    # ------------------------------------------------------------------ text

    @property
    def text(self) -> str:
        """The whole answer (joined once, then cached until more arrives)."""
        if self._pending:
            return "".join(self._parts + self._pending)
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def length(self) -> int:
        return self._length

    @property
    def live(self) -> bool:
        """Still streaming: the view must stay mounted."""
        return self._live

    @property
    def folded(self) -> int:
        """Characters received but folded away (not shown)."""
        return self._length - self._shown

    def blocks_text(self) -> str:
        """The text the shown blocks hold, in order (for tests: equals `text` unless folded)."""
        raws = [b.raw for b in self.query(Block)]
        return "".join(raws) + self._splitter.tail

    def copy(self) -> AnswerView:
        """A settled view of the same answer (to mount again after unmounting)."""
        return AnswerView(self.model, self.text, purpose=self.purpose, partial=self.partial, settled=True,
                          alternative=self.alternative)

    # ------------------------------------------------------------------ compose

    def _label(self) -> Content:
        note = PURPOSE_LABELS.get(self.purpose, "")
        if self.partial:
            note = f"{note} · partial" if note else "partial"
        place = f"  ‹ {self.alternative[0]}/{self.alternative[1]} ›" if self.alternative else ""
        return Content.assemble((visible(self.model), "bold"), (f" · {note}" if note else "", "italic"),
                                (place, "bold"))

    def show_alternative(self, alternative: tuple[int, int] | None) -> None:
        """Say which of its question's answers this is ("2/2"), or nothing when it is the only one."""
        if alternative == self.alternative:
            return
        self.alternative = alternative
        label = next((c for c in self.children if isinstance(c, Static) and c.has_class("label")), None)
        if label is not None:  # (a view not composed yet shows it when it is)
            label.update(self._label())

    def compose(self) -> ComposeResult:
        yield Static(self._label(), classes="label")
        self._parts.extend(self._pending)
        self._pending.clear()
        text = self.text
        if self.settled and len(text) <= SMALL:
            self._shown = len(text)
            self._splitter.feed(text)
            self._tail = Static(_markdown(text), classes="body tail")
            yield self._tail
            return
        shown = text[: self._cap]
        self._shown = len(shown)
        yield from self._blocks(self._splitter.feed(shown))
        self._tail = Static(_markdown(self._splitter.tail_source()), classes=self._tail_classes())
        yield self._tail
        fold = Fold(self._fold_text(), classes="fold")
        fold.display = self.folded > 0
        yield fold

    def _blocks(self, pieces: list[Piece]) -> list[Block]:
        blocks = []
        for piece in pieces:
            blocks.append(Block(piece, gap=self._pieces > 0 and not piece.joined))
            self._pieces += 1
        return blocks

    def _tail_classes(self) -> str:
        return "body tail" + (" -gap" if self._pieces and not self._splitter.joined else "")

    def _fold_text(self) -> Content:
        return Content.assemble(
            (f"… {self.folded / 1024:,.0f} KB more", "bold"),
            f" · enter or click shows the next {self._cap_step() // 1000} KB",
        )

    @staticmethod
    def _cap_step() -> int:
        return CAP

    # ------------------------------------------------------------------ streaming

    async def write(self, chunk: str) -> None:
        """Take a streamed chunk; it reaches the screen with the next flush."""
        if not chunk:
            return
        self._pending.append(chunk)
        self._length += len(chunk)
        if self._timer is None and self.is_mounted:
            self._timer = self.set_timer(FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._timer = None
        if not self._pending:
            return
        new = "".join(self._pending)
        self._pending.clear()
        self._parts.append(new)
        self._show(new)

    def _show(self, new: str) -> None:
        """Hand the part of `new` that fits under the cap to the splitter; redraw the tail."""
        if self._tail is None:  # not composed yet: compose shows the whole text
            return
        room = self._cap - self._shown
        if room > 0 and new:
            take = new[:room]
            self._shown += len(take)
            pieces = self._splitter.feed(take)
            if pieces:
                self.mount_all(self._blocks(pieces), before=self._tail)
            self._tail.set_classes(self._tail_classes())
            self._tail.update(_markdown(self._splitter.tail_source()))
        fold = self.query(Fold)
        if fold and self.folded > 0:
            fold.first().display = True
            fold.first().update(self._fold_text())

    def unfold(self) -> None:
        """Show the next `CAP` characters of a folded answer."""
        if self.folded <= 0:
            return
        text = self.text
        self._cap += CAP
        self._show(text[self._shown : self._cap])
        if self.folded <= 0:
            self.query_one(Fold).display = False

    async def finish(self, *, partial: bool = False) -> None:
        """Stop streaming: show what is left; a partial answer keeps its text and says so."""
        if self._timer is not None:
            self._timer.stop()
        self._flush()
        self._live = False
        if partial != self.partial:
            self.partial = partial
            self.set_class(partial, "-partial")
            self.query_one(".label", Static).update(self._label())
