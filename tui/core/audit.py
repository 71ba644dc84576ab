"""The audit trail: every timeline event appended to a JSONL file as it happens.

The file is private (0600 in a 0700 directory) and rotates at a size cap:
`audit.jsonl` is the newest, then `audit.jsonl.1` up to `audit.jsonl.3`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

MAX_BYTES = 20 * 1024 * 1024
LONG = 64 * 1024  # a string longer than this is written a slice at a time
KEEP = 3  # rotated files kept beside the live one

# JSON escapes C0 controls already; DEL and C1 (e.g. \x9b, a one-byte CSI) it leaves raw,
# and a terminal showing the file would obey them. Escaped, the JSON still decodes the same.
_ESCAPE_C1 = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


class AuditLog:
    """Appends one JSON object per line. Any secret given is scrubbed from each line
    before it is written, as a last guard: records never carry keys by construction."""

    def __init__(
        self, path: Path, secrets: Iterable[str] = (), *, max_bytes: int = MAX_BYTES, keep: int = KEEP
    ) -> None:
        if keep < 1:
            raise ValueError("keep at least one rotated file")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.keep = keep
        variants = {v for s in secrets if s for v in (s, s.strip())}
        # Longest first, so a key is never half-replaced by a shorter one inside it.
        self._secrets = sorted((s for s in variants if len(s) >= 8), key=len, reverse=True)
        self._file: IO[bytes] | None = None

    def write(self, record: dict[str, Any]) -> None:
        pieces, size_hint = self._encoded(record)
        try:
            if self._file is None:
                self._file = self._open()
            size = os.fstat(self._file.fileno()).st_size
            if size and size + size_hint > self.max_bytes:
                self._rotate()
                self._file = self._open()
            for piece in pieces:
                self._file.write(piece)
            self._file.flush()
        except OSError:
            # A full disk or a read-only home must not stop the conversation.
            self.close()

    def _encoded(self, record: dict[str, Any]) -> tuple[Iterable[bytes], int]:
        """The record's line as bytes, and its size. A string longer than `LONG` (a huge
        answer) is escaped, scrubbed and encoded a slice at a time as it is written, never
        copied whole: its size is then a lower bound."""
        try:
            skeleton, longs, nonce = _skeleton(record)
        except (TypeError, ValueError) as exc:  # a record that refers to itself, say
            skeleton, longs, nonce = json.dumps({"type": "unrecorded", "error": str(exc)}), [], ""
        if not longs:
            data = self._clean(skeleton + "\n").encode("utf-8", "backslashreplace")
            return [data], len(data)
        pieces = itertools.chain(_pieces(skeleton, longs, nonce), ["\n"])
        return self._scrubbed(pieces), len(skeleton) + sum(map(len, longs)) + 1

    def _clean(self, line: str) -> str:
        return self._clean_secrets(line).translate(_ESCAPE_C1)

    def _scrubbed(self, texts: Iterable[str]) -> Iterator[bytes]:
        """Pieces of one line, scrubbed as one text (the last characters of each piece wait
        for the next, so a key cut between two pieces is still found), C1 escaped, encoded."""
        keep = max(map(len, self._secrets), default=1) - 1
        carry = ""
        for text in texts:
            text = self._clean_secrets(carry + text)
            cut = max(0, len(text) - keep)
            carry = text[cut:]
            if cut:
                yield text[:cut].translate(_ESCAPE_C1).encode("utf-8", "backslashreplace")
        if carry:
            yield carry.translate(_ESCAPE_C1).encode("utf-8", "backslashreplace")

    def _clean_secrets(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _open(self) -> IO[bytes]:
        from .files.tomlfile import open_private  # with the TOML code: off `baton ask`'s path

        return os.fdopen(open_private(self.path), "ab")

    def _rotate(self) -> None:
        self.close()
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def json_pieces(value: Any, *, default: Callable[[Any], Any] | None = str) -> Iterator[str]:
    """`json.dumps(value, ensure_ascii=False, default=default)` in pieces, for a writer: a
    string longer than `LONG` is escaped a slice at a time, never copied whole. What
    json.dumps would raise is raised here, before the first piece."""
    return _pieces(*_skeleton(value, default))


def _skeleton(value: Any, default: Callable[[Any], Any] | None = str) -> tuple[str, list[str], str]:
    """`value` as JSON with each long string replaced by a mark; the long strings; the
    marks' nonce."""
    nonce = os.urandom(8).hex()
    longs: list[str] = []
    skeleton = json.dumps(_cut_long(value, longs, nonce, set()), ensure_ascii=False, default=default)
    return skeleton, longs, nonce


def _pieces(skeleton: str, longs: list[str], nonce: str) -> Iterator[str]:
    """The skeleton around each mark, each long string's JSON a slice at a time in place."""
    marks = sorted((skeleton.index(json.dumps(_mark(nonce, i))), i) for i in range(len(longs)))
    at = 0
    for where, i in marks:
        yield skeleton[at:where] + '"'
        value = longs[i]
        for start in range(0, len(value), LONG):
            yield json.dumps(value[start:start + LONG], ensure_ascii=False)[1:-1]
        yield '"'
        at = where + len(json.dumps(_mark(nonce, i)))
    yield skeleton[at:]


def _mark(nonce: str, index: int) -> str:
    """What stands for long string `index` in the skeleton (NULs: JSON escapes them)."""
    return f"\x00{nonce}:{index}\x00"


def _cut_long(value: Any, longs: list[str], nonce: str, path: set[int]) -> Any:
    """`value` with each long string replaced by its mark (appended to `longs`). A
    container met again inside itself is left for `json.dumps` to refuse."""
    if isinstance(value, str):
        if len(value) <= LONG:
            return value
        longs.append(value)
        return _mark(nonce, len(longs) - 1)
    if not isinstance(value, (dict, list, tuple)) or id(value) in path:
        return value
    path.add(id(value))
    try:
        if isinstance(value, dict):
            return {k: _cut_long(v, longs, nonce, path) for k, v in value.items()}
        return [_cut_long(v, longs, nonce, path) for v in value]
    finally:
        path.discard(id(value))


def default_audit_log(env: Mapping[str, str]) -> AuditLog:
    from .env import data_dir
    from .models import BUILTIN_PROVIDERS

    secrets = [env.get(p.api_key_env, "") for p in BUILTIN_PROVIDERS.values() if p.api_key_env]
    secrets += [v for k, v in env.items() if k.endswith(("_API_KEY", "_TOKEN"))]
    return AuditLog(data_dir(env) / "audit.jsonl", secrets)
