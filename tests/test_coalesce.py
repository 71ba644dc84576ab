"""The presenter merges a frame's deltas of one answer with one join (a batch can hold thousands)."""

from __future__ import annotations

from tui.core.events import Event, TextDelta, TurnStarted
from tui.ui.run import coalesce


def test_deltas_of_one_answer_are_merged_in_order_and_others_stay_apart() -> None:
    batch: list[Event] = [TurnStarted("a", "1")]
    batch += [TextDelta("a", f"{i},", "1") for i in range(5000)]
    batch += [TextDelta("b", "x", "2"), TextDelta("b", "y", "2"), TextDelta("a", "z", "1"), TurnStarted("c")]
    merged = coalesce(batch)
    assert merged == [
        TurnStarted("a", "1"),
        TextDelta("a", "".join(f"{i}," for i in range(5000)), "1"),
        TextDelta("b", "xy", "2"),
        TextDelta("a", "z", "1"),
        TurnStarted("c"),
    ]
    assert coalesce([]) == []
    assert coalesce([TextDelta("a", "only")]) == [TextDelta("a", "only")]


def test_a_run_of_deltas_is_joined_once_not_once_per_delta(monkeypatch) -> None:
    import tui.ui.run as presenter

    made: list[int] = []

    class Counted(TextDelta):
        def __init__(self, *args, **kwargs) -> None:
            made.append(len(args[1]))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(presenter, "TextDelta", Counted)
    batch: list[Event] = [Counted("a", "x" * 100) for _ in range(10_000)]
    made.clear()
    merged = presenter.coalesce(batch)
    assert len(merged) == 1 and merged[0].text == "x" * 1_000_000  # type: ignore[attr-defined]
    assert made == [1_000_000]  # one string made, not 10,000 ever longer ones (50 GB copied)
