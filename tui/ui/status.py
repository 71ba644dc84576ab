"""The status line: what the run is doing right now (model, phase, elapsed, speed) on the
left, what the session has cost and how full the context is on the right. Redrawn twice a
second while a run works, so a slow first token never looks like a hang."""

from __future__ import annotations

import time

from textual.content import Content
from textual.widgets import Static

from .text import one_line

clock = time.monotonic  # the status line's own clock (a snapshot test holds it still)


class StatusLine(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.model = ""
        self.phase = ""
        self.started = 0.0  # the run's start
        self.streaming_since = 0.0
        self.chars = 0
        self.totals = ""
        self.below = False  # new output below where the person scrolled to
        self._timer = self.set_interval(0.5, self.redraw, pause=True)

    def begin(self, model: str, phase: str) -> None:
        """A turn starts: `phase` until the first token."""
        if not self.started:
            self.started = clock()
        self.model, self.phase = model, phase
        self.streaming_since, self.chars = 0.0, 0
        self._timer.resume()
        self.redraw()

    def set_phase(self, phase: str, model: str | None = None) -> None:
        self.phase = phase
        if model is not None:
            self.model = model
        self.redraw()

    def streamed(self, chars: int) -> None:
        if not self.streaming_since:
            self.streaming_since = clock()
            self.phase = "streaming"
        self.chars += chars

    def set_below(self, below: bool) -> None:
        if below != self.below:
            self.below = below
            self.redraw()

    def end(self) -> None:
        self.model, self.phase, self.started, self.below = "", "", 0.0, False
        self._timer.pause()
        self.redraw()

    def set_totals(self, text: str) -> None:
        self.totals = text
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        left = ""
        if self.phase:
            now = clock()
            parts = [self.model, self.phase, f"{now - self.started:.1f}s"]
            if self.streaming_since and now > self.streaming_since:
                parts.append(f"{self.chars / 4 / (now - self.streaming_since):.0f} tok/s")
            left = ("↓ new output below (ctrl+end) · " if self.below else "● ") + " · ".join(p for p in parts if p)
        width = self.size.width
        if left:  # what is happening comes first; the session's totals get what is left
            left = one_line(left, max(width, 1))
            room = width - len(left) - 1
            totals = one_line(self.totals, room) if room >= 12 else ""
            line = left + " " * max(1, width - len(left) - len(totals)) + totals if totals else left
        else:
            line = self.totals.rjust(width)
        # One line of fixed height: no layout, or each redraw would re-arrange the whole
        # screen (a long chat's every block) twice a second while an answer streams.
        self.update(Content(line), layout=False)
