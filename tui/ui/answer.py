"""One model's answer, streamed or stored.

Streaming keeps up with the fastest providers by doing little per chunk: `write` only
appends to a buffer; at most once per frame (`FLUSH_S`) the buffer is handed to a
`BlockSplitter`, the blocks that settled are measured once and drawn only while on
screen (`Settled`), and only the short live tail is re-rendered. Past `CAP` characters the
rest of the answer is folded: kept in the message, shown a cap at a time on request.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from typing import TYPE_CHECKING, ClassVar, cast
from weakref import WeakKeyDictionary

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.visual import RichVisual, Visual
from textual.widget import Widget
from textual.widgets import Static

from . import pace
from .blocks import BlockSplitter, Piece
from .text import visible

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from rich.markdown import Markdown as RichMarkdown
    from textual import events
    from textual.app import App
    from textual.css.styles import RulesMap
    from textual.selection import Selection
    from textual.visual import VisualType

PURPOSE_LABELS = {"synthesis": "synthesis", "judge": "judge", "stage": "stage", "check": "check", "consult": "consult",
                  "summary": "summary"}
FLUSH_S = 1 / 30  # streamed text reaches the screen at most this often
BUDGET_S = 0.1  # the longest a flush works on the text that came (the rest waits a frame), or until a key comes
REST = 0.2  # after a flush and its frame, the screen rests this share of what they took (keys go then)
STEP = 2_000  # characters handed to the splitter at a time within that budget
CAP = 200_000  # characters shown before the rest is folded
SMALL = 4_000  # a stored answer up to this size is one widget


def _markdown(source: str) -> RichMarkdown:
    """Rich's Markdown of `source`, parsed by one parser for all: Rich's own `__init__`
    builds a new markdown-it parser (rules compiled, plugins enabled) for every
    renderable, and a streaming answer makes several a frame."""
    made = _made
    if not made:
        # markdown-it and Rich's Markdown are imported with the first answer, not at start-up.
        from rich.markdown import Markdown as RichMarkdown

        plain = RichMarkdown("")
        made.append((plain, plain.__dict__, _parser()))
    plain, fields, parser = made[0]
    markdown = object.__new__(type(plain))
    markdown.__dict__.update(fields)  # Rich's defaults, as its __init__ sets them
    markdown.markup = text = visible(source)
    markdown.parsed = parser.parse(text)
    return markdown


_made: list[tuple[RichMarkdown, dict[str, object], MarkdownIt]] = []


def _parser() -> MarkdownIt:
    """The parser Rich's Markdown makes for itself."""
    from markdown_it import MarkdownIt

    return MarkdownIt().enable("strikethrough").enable("table")


def laid_out_size() -> Reactive[Size]:
    """A widget's `virtual_size` that the compositor sets without asking for a layout.

    After every layout, Textual gives each widget whose size changed its new virtual
    size through a reactive that asks for a layout again: while an answer streams, every
    frame that placed new text (the answer, its column, the chat grew) was followed by a
    frame that arranged the whole screen again for nothing, 7-25 ms here. For widgets
    that the layout sizes (containers, text), that second layout changes nothing; the
    scroll bars are updated without it. Not for widgets that set their own virtual size."""
    return Reactive(Size(0, 0), layout=False)


class _AtWidth:
    """A `Settled` at one width: each piece's height (measured, or guessed until it is
    measured), where its lines start, and the lines of the pieces drawn lately."""

    KEEP = 24  # pieces whose lines are kept (a screenful, and some)

    def __init__(self) -> None:
        self.heights: list[int] = []
        self.starts: list[int] = []  # where each piece's lines start (after its gap line, if any)
        self.height = 0
        self.guessed: set[int] = set()  # pieces whose height is a guess
        self.known: dict[int, int] = {}  # guessed pieces measured since, for the next layout to take
        self.drawn: dict[int, list[Strip]] = {}

    def draw(self, index: int, lines: list[Strip]) -> None:
        if len(self.drawn) >= self.KEEP:
            del self.drawn[next(iter(self.drawn))]
        self.drawn[index] = lines

    def settle(self, heights: dict[int, int], gaps: list[bool]) -> bool:
        """Take measured `heights` for guessed pieces; True when the layout changed."""
        changed = min((i for i, h in heights.items() if h != self.heights[i]), default=None)
        for index, height in heights.items():
            self.heights[index] = height
            self.guessed.discard(index)
            self.known.pop(index, None)
        if changed is None:
            return False
        y = self.starts[changed] - gaps[changed]
        for index in range(changed, len(self.heights)):
            y += gaps[index]
            self.starts[index] = y
            y += self.heights[index]
        self.height = y
        return True


def _guess(source: str, width: int) -> int:
    """About how many lines `source` wraps to at `width` (a word-wrapped line holds a
    little less than the width): a piece's height before it is measured."""
    room = max(1, width * 9 // 10)
    return sum(-(-len(line) // room) or 1 for line in source.split("\n"))


class Settled(Widget):
    """The settled pieces of an answer, as one widget.

    Each piece is measured once per width, and only the pieces on screen are drawn (their
    lines kept for the next frames). Adding a piece costs no measuring: as one widget per
    piece (Textual's way), every frame arranged and measured every piece of every
    streaming column again, 60-180 ms a frame for three 20,000-word columns.

    While the view follows the end of the conversation, only the pieces in the last
    screenful are measured (by drawing them, which they need anyway); the height of the
    pieces above, which a fast stream pushes past before any frame could show them, is
    guessed, and they are measured once the stream rests, a few at a time (`QUIET_S`,
    `SLICE_S`). Measuring every piece as it settled was a third of the app's work on a
    fast stream, most of it for text no frame showed. A view that does not follow (the
    person scrolled back) measures every piece before its layout, so nothing it shows
    moves when a guess is put right."""

    DEFAULT_CSS = "Settled { height: auto; }"
    virtual_size = laid_out_size()
    WIDTHS = 3  # widths kept at once (a resize, and back)
    QUIET_S = 0.25  # guessed pieces are measured once no answer has settled a piece for this long
    SLICE_S = 0.008  # and this long at a time, a turn of the event loop each
    added: ClassVar[float] = 0.0  # when any answer last settled a piece

    def __init__(self) -> None:
        super().__init__(classes="body settled")
        self.pieces: list[Piece] = []
        self._gaps: list[bool] = []  # a blank line before the piece (a new Markdown block)
        self._widths: dict[int, _AtWidth] = {}
        self._measuring: Timer | None = None

    @property
    def raw(self) -> str:
        return "".join(piece.raw for piece in self.pieces)

    @property
    def guessed(self) -> int:
        """Pieces whose height at the width laid out is still a guess."""
        at = self._widths.get(self.size.width)
        return len(at.guessed) if at is not None else 0

    def add(self, pieces: list[Piece]) -> None:
        """Add settled pieces; the next layout places them."""
        for piece in pieces:
            self._gaps.append(bool(self.pieces) and not piece.joined)
            self.pieces.append(piece)
        if pieces:
            Settled.added = time.perf_counter()
            self.refresh(layout=True)

    def _at(self, width: int) -> _AtWidth:
        """The layout at `width`, with a guess at the height of each piece added since."""
        at = self._widths.get(width)
        if at is None:
            if len(self._widths) >= self.WIDTHS:
                self._widths.clear()
            at = self._widths[width] = _AtWidth()
        for index in range(len(at.starts), len(self.pieces)):
            at.height += self._gaps[index]
            at.starts.append(at.height)
            height = _guess(self.pieces[index].source, width)
            at.heights.append(height)
            at.guessed.add(index)
            at.height += height
        return at

    def _visual(self, index: int) -> RichVisual:
        return RichVisual(self, _markdown(self.pieces[index].source))

    def _draw(self, at: _AtWidth, index: int, width: int) -> list[Strip]:
        lines = at.drawn.get(index)
        if lines is None:
            lines = Visual.to_strips(self, self._visual(index), width, None, self.visual_style)
            at.draw(index, lines)
        return lines

    def _measure(self, index: int, width: int) -> int:
        return self._visual(index).get_height(cast("RulesMap", self.styles), width)

    def _following(self) -> bool:
        """The conversation is kept scrolled to its end (the last screenful is what shows)."""
        for node in self.ancestors:
            if isinstance(node, Widget) and node.is_anchored:
                return not node._anchor_released
        return False

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width <= 0:
            return 0
        at = self._at(width)
        if at.guessed:
            heights = dict(at.known)
            if self._following():
                room, index = self.app.size.height, len(at.heights)
                while room > 0 and index > 0:  # the pieces that can be on screen
                    index -= 1
                    if index in at.guessed and index not in heights:
                        heights[index] = len(self._draw(at, index, width))
                    room -= heights.get(index, at.heights[index]) + self._gaps[index]
                if len(at.guessed) > len(heights):
                    self._measure_later()
            else:
                for index in at.guessed - heights.keys():
                    heights[index] = self._measure(index, width)
            at.settle(heights, self._gaps)
        return at.height

    def _measure_later(self, delay: float | None = None) -> None:
        if self._measuring is None:
            wait = self.QUIET_S if delay is None else delay
            self._measuring = self.set_timer(wait, self._measure_some, name="settled-measure")

    def _measure_some(self) -> None:
        """Measure guessed pieces for a slice of time; the next layout takes them."""
        self._measuring = None
        width = self.size.width
        at = self._widths.get(width)
        if at is None or not self.is_attached:
            return
        started = time.perf_counter()
        if started - Settled.added < self.QUIET_S or pace.key_pending():
            self._measure_later()
            return
        left = sorted(at.guessed - at.known.keys(), reverse=True)  # the nearest the end first
        while left and time.perf_counter() - started < self.SLICE_S:
            index = left.pop()
            at.known[index] = self._measure(index, width)
        if left:
            self._measure_later(self.SLICE_S)
        else:
            self.refresh(layout=True)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        at = self._at(width)
        index = bisect_right(at.starts, y) - 1
        if index >= 0:
            lines = self._draw(at, index, width)
            if index in at.guessed and index not in at.known:  # a guess on screen: put right next frame
                at.known[index] = len(lines)
                if len(lines) != at.heights[index]:
                    self.refresh(layout=True)
            if y - at.starts[index] < len(lines):
                return lines[y - at.starts[index]]
        return Strip.blank(width, self.visual_style.rich_style)

    def notify_style_update(self) -> None:
        self._widths.clear()  # a theme's colours are in the lines drawn
        super().notify_style_update()


class Tail(Static):
    """The live end of a streaming answer, drawn again at every flush: rendered once a
    flush, for its height and its lines both (a Static renders it twice, to measure it
    and to draw it: 15 % of a streaming frame here)."""

    virtual_size = laid_out_size()

    def __init__(self, content: VisualType = "", *, classes: str | None = None) -> None:
        super().__init__(content, classes=classes)
        self._lines: tuple[int, list[Strip]] | None = None  # (width, lines) of the content now

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        self._lines = None
        super().update(content, layout=layout)

    def _strips(self, width: int) -> list[Strip]:
        if self._lines is None or self._lines[0] != width:
            self._lines = (width, Visual.to_strips(self, self.visual, width, None, self.visual_style))
        return self._lines[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._strips(width)) if width > 0 else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._strips(width)
        return lines[y] if y < len(lines) else Strip.blank(width, self.visual_style.rich_style)

    def selection_updated(self, selection: Selection | None) -> None:
        self._lines = None
        super().selection_updated(selection)

    def notify_style_update(self) -> None:
        self._lines = None  # a theme's colours are in the lines drawn
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


class _Clock:
    """One flush a frame for every answer streaming on the screen (a round's columns
    are drawn in the same frame, not each in its own), within a time budget shared
    out among them, held back while a key is on its way and cut short when one comes
    (`pace`).

    A frame costs about the same however much text it adds (a round's narrow columns
    50-130 ms here), so a flush takes all the text that came, up to `BUDGET_S`: with
    a 16 ms budget a round needed a frame per 10 KB a column and took 40 % longer than
    with no budget. Frames are paced by what they cost: once a flush has been drawn,
    the next waits `REST` of what that flush and its frame took (a key finds the loop
    free then)."""

    def __init__(self, app: App[object]) -> None:
        self.app = app
        self.views: dict[AnswerView, None] = {}  # waiting to be flushed, in order
        self.timer: Timer | None = None
        self.since = 0.0  # when the oldest text waiting came
        self.turn = 0  # which view goes first (each gets its turn to go first)
        self.drawing = 0.0  # when the flush not drawn yet began (the next waits for it)

    def want(self, view: AnswerView) -> None:
        self.views[view] = None
        if self.timer is None and (not self.drawing or time.perf_counter() - self.drawing > pace.MAX_WAIT_S):
            self.since = time.perf_counter()
            self._after(FLUSH_S)

    def _after(self, delay: float) -> None:
        self.timer = self.app.set_timer(delay, self.tick, name="answer-flush")

    def tick(self) -> None:
        self.timer = None
        if not self.app.is_running or not self.app.screen_stack:  # quitting: nothing to draw on
            self.views.clear()
            return
        hold = pace.hold_for(self.since)
        if hold > 0:
            self._after(hold)
            return
        views = list(self.views)
        self.views.clear()
        self.turn += 1
        first = self.turn % len(views) if views else 0
        share = BUDGET_S / max(1, len(views))
        started = time.perf_counter()
        for view in views[first:] + views[:first]:
            if view.is_attached and not view.flush(time.perf_counter() + share):
                self.views[view] = None
        self.drawing = started
        # The screen's queue, not the app's: a handler of the app's can be waiting for
        # an answer to finish, and the app's queue with it.
        self.app.screen.call_after_refresh(self._drawn, started)

    def _drawn(self, started: float) -> None:
        self.drawing = 0.0
        if self.views and self.timer is None:
            took = time.perf_counter() - started
            self.since = time.perf_counter()
            self._after(max(FLUSH_S - took, took * REST, 0.001))


_clocks: WeakKeyDictionary[App[object], _Clock] = WeakKeyDictionary()


def _clock(app: App[object]) -> _Clock:
    clock = _clocks.get(app)
    if clock is None:
        clock = _clocks[app] = _Clock(app)
    return clock


class AnswerView(Vertical):
    """One model's answer: a label naming the model, then its Markdown."""

    virtual_size = laid_out_size()

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
        self._unseen: list[str] = []  # received, not yet on screen
        self._splitter = BlockSplitter()
        self._shown = 0  # characters handed to the splitter
        self._settled: Settled | None = None
        self._cap = CAP
        self._tail: Static | None = None
        self._live = not settled
        self.set_class(partial, "-partial")

    # ------------------------------------------------------------------ text

    @property
    def text(self) -> str:
        """The whole answer (joined once, then cached until more arrives)."""
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
        """Characters received but folded away (past the cap, not shown)."""
        return max(0, self._length - self._cap)

    def blocks_text(self) -> str:
        """The text the shown blocks hold, in order (for tests: equals `text` unless folded)."""
        return (self._settled.raw if self._settled is not None else "") + self._splitter.tail

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
        self._unseen.clear()  # shown here, whole
        text = self.text
        if self.settled and len(text) <= SMALL:
            self._shown = len(text)
            self._splitter.feed(text)
            self._tail = Tail(_markdown(text), classes="body tail")
            yield self._tail
            return
        shown = text[: self._cap]
        self._shown = len(shown)
        self._settled = Settled()
        self._settled.add(self._splitter.feed(shown))
        yield self._settled
        self._tail = Tail(_markdown(self._splitter.tail_source()), classes=self._tail_classes())
        yield self._tail
        fold = Fold(self._fold_text(), classes="fold")
        fold.display = self.folded > 0
        yield fold

    def _tail_classes(self) -> str:
        settled = self._settled is not None and bool(self._settled.pieces)
        return "body tail" + (" -gap" if settled and not self._splitter.joined else "")

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
        self.write_pieces([chunk])

    def write_pieces(self, pieces: list[str]) -> None:
        """Take streamed text as the strings that came (kept, not copied); it reaches
        the screen with the next flush."""
        size = sum(map(len, pieces))
        if not size:
            return
        self._parts += pieces
        self._length += size
        if self._tail is not None:  # (before compose, compose shows it)
            if self._shown < self._cap:  # (past the cap nothing more is drawn)
                self._unseen += pieces
            if self.is_attached:
                _clock(self.app).want(self)

    def adopt(self, text: str) -> None:
        """Hold `text` (the message's own string) in place of the pieces received, when it
        is what they say: a huge answer is then kept once, not twice."""
        if len(text) != self._length:
            return
        at = 0
        for part in self._parts:
            if not text.startswith(part, at):
                return
            at += len(part)
        self._parts[:] = [text] if text else []

    def flush(self, deadline: float | None = None) -> bool:
        """Show the text that came since the last flush, a `STEP` at a time until
        `deadline` (a `time.perf_counter()`) passes or a key is read (its frame goes
        first); the rest waits for the next flush. True when nothing is left waiting.
        Text past the cap is only counted (the fold says how much)."""
        room, size = self._cap - self._shown, 0
        taken = []
        for piece in self._unseen:
            if size >= room:
                break
            taken.append(piece)
            size += len(piece)
        self._unseen.clear()
        new = "".join(taken)[: max(room, 0)]
        done = 0
        while done < len(new):
            self._feed(new[done : done + STEP])
            done += STEP
            if deadline is not None and (time.perf_counter() > deadline or pace.key_waiting()):
                break
        if done < len(new):
            self._unseen.append(new[done:])
        self._redraw()
        return not self._unseen

    def _feed(self, new: str) -> None:
        """Hand the part of `new` that fits under the cap to the splitter."""
        room = self._cap - self._shown
        if room > 0 and new:
            take = new[:room]
            self._shown += len(take)
            pieces = self._splitter.feed(take)
            if pieces and self._settled is not None:
                self._settled.add(pieces)

    def _redraw(self) -> None:
        """Draw the live tail again, and say what is folded."""
        if self._tail is None:
            return
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
        self._unseen.clear()  # (all of it is in `text`)
        self._feed(text[self._shown : self._cap])
        self._redraw()
        if self.folded <= 0:
            self.query_one(Fold).display = False

    async def finish(self, *, partial: bool = False) -> None:
        """Stop streaming: show what is left, a budget a frame as while it streamed (a
        fast stream can end far ahead of the screen; the answers of a round that end
        together are drawn in the same frames); a partial answer keeps its text and says
        so. Not through the clock: a handler of the app's can be waiting on this, and
        then the frame the clock waits for never comes."""
        while self._unseen and self.is_attached:
            self.flush(time.perf_counter() + BUDGET_S)
            await asyncio.sleep(FLUSH_S)
        self.flush()  # (a view taken off the screen meanwhile: at once)
        self._live = False
        if partial != self.partial:
            self.partial = partial
            self.set_class(partial, "-partial")
            self.query_one(".label", Static).update(self._label())
