"""The presenter takes a frame's deltas of one answer as one run: the strings that came,
in order and not copied (the conversation holds the same strings while the answer streams)."""

from __future__ import annotations

from tui.core.events import Event, TextDelta, TurnStarted
from tui.ui.run import Texts, coalesce


def test_deltas_of_one_answer_are_one_run_in_order_and_others_stay_apart() -> None:
    batch: list[Event] = [TurnStarted("a", "1")]
    batch += [TextDelta("a", f"{i},", "1") for i in range(5000)]
    batch += [TextDelta("b", "x", "2"), TextDelta("b", "y", "2"), TextDelta("a", "z", "1"), TurnStarted("c")]
    merged = coalesce(batch)
    assert merged == [
        TurnStarted("a", "1"),
        Texts("a", "1", [f"{i}," for i in range(5000)]),
        Texts("b", "2", ["x", "y"]),
        Texts("a", "1", ["z"]),
        TurnStarted("c"),
    ]
    assert coalesce([]) == []
    assert coalesce([TextDelta("a", "only")]) == [Texts("a", None, ["only"])]


def test_a_run_holds_the_strings_that_came_not_copies() -> None:
    deltas = [TextDelta("a", "x" * 100 + str(i)) for i in range(10_000)]
    (run,) = coalesce(list(deltas))
    assert isinstance(run, Texts)
    assert all(piece is delta.text for piece, delta in zip(run.pieces, deltas, strict=True))
