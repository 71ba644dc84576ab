"""The audit log with huge records: written a slice at a time, byte for byte the line a
whole-line write gives (keys scrubbed, C1 controls escaped), in bounded memory."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

from tui.core import audit
from tui.core.audit import LONG, AuditLog

KEY = "sk-test-0123456789abcdef"


def whole_line(record: dict[str, Any], secrets: list[str]) -> bytes:
    """The line as the log wrote it before huge strings were streamed."""
    line = json.dumps(record, ensure_ascii=False, default=str)
    for secret in sorted(secrets, key=len, reverse=True):
        line = line.replace(secret, "[redacted]")
    return (line.translate(audit._ESCAPE_C1) + "\n").encode("utf-8", "backslashreplace")


def test_a_huge_record_is_the_same_line_as_a_whole_one(tmp_path: Path):
    # A key cut by the slice boundary, quotes, escapes, C1 and DEL, non-ASCII, a lone surrogate.
    text = ("a" * (LONG - 10) + KEY + 'b "quoted" \\ \n\t \x9b2J \x7f ü 🎉 \ud800 ') * 3
    record = {"type": "turn", "text": text, "usage": {"input_tokens": 1},
              "answers": {"alpha": text[::-1], "beta": "short " + KEY}, "models": ("alpha", "beta"), "n": 2.5}
    log = AuditLog(tmp_path / "audit.jsonl", [KEY])
    log.write(record)
    log.write({"type": "notice", "message": "after"})
    log.close()
    lines = (tmp_path / "audit.jsonl").read_bytes().splitlines(keepends=True)
    assert lines[0] == whole_line(record, [KEY])
    assert KEY.encode() not in lines[0] and lines[0].count(b"[redacted]") == 4  # three in the text, one short
    assert json.loads(lines[1])["message"] == "after"


def test_a_huge_record_is_written_in_bounded_memory(tmp_path: Path):
    text = "streaming tokens arrive quickly\n" * 160_000  # 5 MB
    log = AuditLog(tmp_path / "audit.jsonl", [KEY])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        log.write({"type": "turn", "text": text})
        extra = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        log.close()
    assert extra < len(text) // 10  # a whole-line write holds three to four copies
    assert json.loads((tmp_path / "audit.jsonl").read_text())["text"] == text


def test_a_record_that_holds_itself_is_recorded_as_unrecorded(tmp_path: Path):
    record: dict[str, Any] = {"type": "turn", "text": "x" * (LONG + 1)}
    record["self"] = record
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write(record)
    log.close()
    assert json.loads((tmp_path / "audit.jsonl").read_text())["type"] == "unrecorded"


def test_a_huge_record_rotates_the_log_first(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=LONG * 2)
    log.write({"type": "notice", "message": "first"})
    log.write({"type": "turn", "text": "y" * (LONG * 3)})
    log.close()
    assert json.loads((tmp_path / "audit.jsonl.1").read_text())["message"] == "first"
    assert len(json.loads(path.read_text())["text"]) == LONG * 3


def test_json_pieces_join_to_json_dumps():
    from tui.core.audit import json_pieces

    text = ("x" * (LONG - 3) + '"\\\n ü 🎉 \x9b') * 3
    value = {"final_output": text, "events": [{"type": "turn", "text": text}], "n": None, "t": ("a", text)}
    assert "".join(json_pieces(value, default=None)) == json.dumps(value, ensure_ascii=False)
    try:
        json_pieces({"x": object()}, default=None)
    except TypeError:
        pass
    else:
        raise AssertionError("json.dumps would refuse it, before any piece is written")
