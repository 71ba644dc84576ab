"""Files Baton writes are private and atomic; numbers read are finite; the audit log rotates."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tui.core.audit import AuditLog, default_audit_log
from tui.core.files import SchemaError, append_private, atomic_write, convert, private_dir
from tui.core.profile import Profile
from tui.core.profile_io import Invalid, ProfileError, parse_profile, save_profile


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ private files


def test_atomic_write_makes_a_private_file_in_private_new_directories(tmp_path: Path):
    target = tmp_path / "new" / "deeper" / "s.toml"
    atomic_write(target, "x = 1\n")
    assert target.read_text() == "x = 1\n"
    assert (mode(target), mode(target.parent), mode(target.parent.parent)) == (0o600, 0o700, 0o700)


def test_atomic_write_tightens_a_file_it_replaces(tmp_path: Path):
    target = tmp_path / "s.toml"
    target.write_text("old")
    target.chmod(0o644)
    atomic_write(target, "new")
    assert (target.read_text(), mode(target)) == ("new", 0o600)


def test_an_existing_directory_keeps_its_mode(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    atomic_write(shared / "s.toml", "x")
    assert mode(shared) == 0o755
    assert private_dir(shared) == shared and mode(shared) == 0o755


def test_private_dir_refuses_a_file(tmp_path: Path):
    (tmp_path / "f").write_text("")
    with pytest.raises(OSError):
        private_dir(tmp_path / "f")


def test_append_private_appends_to_a_private_file(tmp_path: Path):
    path = tmp_path / "logs" / "crash.log"
    append_private(path, "one\n")
    path.chmod(0o644)
    append_private(path, "two\n")
    assert (path.read_text(), mode(path), mode(path.parent)) == ("one\ntwo\n", 0o600, 0o700)


def test_a_saved_profile_is_private(tmp_path: Path):
    save_profile(Profile(name="p"), tmp_path / "p.toml")
    assert mode(tmp_path / "p.toml") == 0o600


# ----------------------------------------------------------------------- numbers


@pytest.mark.parametrize("literal, word", [("nan", "nan"), ("+nan", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_nan_and_infinities_are_refused_with_the_key(literal: str, word: str):
    with pytest.raises(ProfileError) as info:
        parse_profile(f'[models.a]\nmodel = "gpt-4.1"\ninput_price = {literal}\n', "p.toml")
    message = str(info.value)
    assert message.startswith("p.toml:3:1: models.a.input_price: ") and message.endswith(word)
    assert "\n" not in message


def test_a_non_finite_number_is_refused_inside_free_form_values():
    with pytest.raises(SchemaError) as info:
        convert([{"cost": 1.0}, {"cost": float("inf")}], list[dict[str, Any]] | None, ("events",))
    assert info.value.key == ("events", 1, "cost")


def test_a_huge_integer_where_a_number_belongs_is_refused():
    with pytest.raises(ProfileError) as info:
        parse_profile(f"[limits]\nturn_timeout_s = {10**400}\n", "p.toml")
    assert "limits.turn_timeout_s: number too large" in str(info.value)


def test_the_old_name_for_schema_errors_still_works():
    assert Invalid is SchemaError


# ------------------------------------------------------------------------ limits


def test_limits_default_and_round_trip(tmp_path: Path):
    assert parse_profile("").limits.turn_timeout_s == 600.0
    p = parse_profile("[limits]\nconnect_timeout_s = 2\nidle_timeout_s = 7.5\nbudget_usd = 0.25\n")
    assert (p.limits.connect_timeout_s, p.limits.idle_timeout_s, p.limits.budget_usd) == (2.0, 7.5, 0.25)
    assert (p.limits.first_token_timeout_s, p.limits.turn_timeout_s) == (60.0, 600.0)
    save_profile(p, tmp_path / "p.toml")
    text = (tmp_path / "p.toml").read_text()
    assert "[limits]" in text and "turn_timeout_s" not in text  # defaults are left out
    assert parse_profile(text).limits == p.limits


@pytest.mark.parametrize(
    "line, expected",
    [
        ("connect_timeout_s = 0", "p.toml:2:1: limits.connect_timeout_s: must be more than 0"),
        ("turn_timeout_s = -1", "p.toml:2:1: limits.turn_timeout_s: must be more than 0"),
        ("budget_usd = 0", "p.toml:2:1: limits.budget_usd: must be more than 0"),
        ('idle_timeout_s = "60"', "p.toml:2:1: limits.idle_timeout_s: expected a number, got string"),
        ("first_token_timeout_s = nan", "p.toml:2:1: limits.first_token_timeout_s: expected a number, got nan"),
        ("idle_timeot_s = 5", 'p.toml:2:1: limits.idle_timeot_s: unknown key (did you mean "idle_timeout_s"?)'),
    ],
)
def test_bad_limits_are_one_line_errors(line: str, expected: str):
    with pytest.raises(ProfileError) as info:
        parse_profile(f"[limits]\n{line}\n", "p.toml")
    assert str(info.value) == expected


def test_mcp_start_and_call_timeouts_are_separate_and_checked():
    p = parse_profile('[mcp_servers.a]\ncommand = "x"\ntimeout_s = 5\nstart_timeout_s = 90\n')
    assert (p.mcp_servers["a"].timeout_s, p.mcp_servers["a"].start_timeout_s) == (5.0, 90.0)
    with pytest.raises(ProfileError) as info:
        parse_profile('[mcp_servers.a]\ncommand = "x"\nstart_timeout_s = 0\n', "p.toml")
    assert str(info.value) == "p.toml:3:1: mcp_servers.a.start_timeout_s: must be more than 0"


# --------------------------------------------------------------------- audit log


def test_the_audit_log_is_private(tmp_path: Path):
    log = AuditLog(tmp_path / "data" / "audit.jsonl")
    log.write({"type": "turn"})
    log.close()
    assert (mode(tmp_path / "data"), mode(tmp_path / "data" / "audit.jsonl")) == (0o700, 0o600)


def test_an_open_audit_log_is_tightened(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"type": "old"}\n')
    path.chmod(0o644)
    log = AuditLog(path)
    log.write({"type": "new"})
    log.close()
    assert mode(path) == 0o600
    assert [json.loads(x)["type"] for x in path.read_text().splitlines()] == ["old", "new"]


def test_the_audit_log_rotates_at_its_cap_and_keeps_three(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=100)
    for n in range(12):
        log.write({"type": "turn", "n": n, "pad": "x" * 40})  # about 60 bytes: one line per file
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    newest_first = [json.loads(p.read_text())["n"] for p in (path, *(tmp_path / f"audit.jsonl.{i}" for i in (1, 2, 3)))]
    assert newest_first == [11, 10, 9, 8]
    assert all(mode(tmp_path / name) == 0o600 for name in files)


def test_lines_below_the_cap_share_a_file(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=10_000)
    for n in range(5):
        log.write({"n": n})
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["audit.jsonl"]
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 5


def test_audit_lines_scrub_keys_even_with_a_trailing_newline(tmp_path: Path):
    key = "sk-test-0123456789abcdef"
    log = default_audit_log({"OPENAI_API_KEY": key + "\r\n", "BATON_DATA_DIR": str(tmp_path)})
    log.write({"type": "fallback", "error": f"401 for key {key}"})
    log.close()
    text = (tmp_path / "audit.jsonl").read_text()
    assert key not in text and "[redacted]" in text


def test_audit_lines_keep_text_but_no_raw_control_bytes(tmp_path: Path):
    message = "red \x1b[31m csi \x9b2J del \x7f bell \x07 ok ü"
    log = AuditLog(tmp_path / "audit.jsonl")
    log.write({"type": "notice", "message": message})
    log.close()
    raw = (tmp_path / "audit.jsonl").read_bytes().decode("utf-8")
    assert not any(ch in raw for ch in "\x1b\x9b\x7f\x07")
    assert json.loads(raw)["message"] == message  # nothing dropped: the JSON decodes the same


def test_an_unwritable_audit_log_does_not_raise(tmp_path: Path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the directory should be")
    log = AuditLog(blocker / "audit.jsonl")
    log.write({"type": "turn"})  # no exception
    log.close()
    assert os.path.isfile(blocker)


def test_a_session_with_nan_is_skipped_with_its_place_and_saved_sessions_are_private(tmp_path: Path):
    from tui.core.conversation import Conversation
    from tui.core.session import load_session, save_session

    path = tmp_path / "sessions" / "s.toml"
    save_session(path, Profile(name="p"), Conversation())
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    path.write_text('version = 1\n[profile]\nname = "p"\n\n[[events]]\ntype = "turn"\ncost = nan\n')
    _, conversation = load_session(path)  # the event that does not fit is left out and named
    assert conversation.events == []
    assert conversation.skipped == [f"{path}:5:1: events[0]: turn event has unknown keys: cost"]
    path.write_text('version = 1\n[profile]\nname = "p"\n\n[[events]]\ntype = "turn"\nmodel = "m"\ntext = ""\n'
                    'latency_s = nan\n')
    _, conversation = load_session(path)
    assert conversation.events == [] and "latency_s: expected a finite number" in conversation.skipped[0]


def test_atomic_write_writes_pieces_in_order_and_long_ones_a_slice_at_a_time(tmp_path: Path, monkeypatch):
    import tui.core.files.tomlfile as tomlfile

    monkeypatch.setattr(tomlfile, "WRITE_SLICE", 10)
    pieces = ["head\n", "é" * 35, "", "tail\n"]
    atomic_write(tmp_path / "f.toml", pieces)
    assert (tmp_path / "f.toml").read_text(encoding="utf-8") == "".join(pieces)
    atomic_write(tmp_path / "f.toml", "x" * 25)
    assert (tmp_path / "f.toml").read_text(encoding="utf-8") == "x" * 25
