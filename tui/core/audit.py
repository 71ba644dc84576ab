"""The audit trail: every timeline event appended to a JSONL file as it happens.

The file is private (0600 in a 0700 directory) and rotates at a size cap:
`audit.jsonl` is the newest, then `audit.jsonl.1` up to `audit.jsonl.3`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

MAX_BYTES = 20 * 1024 * 1024
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
        line = self._line(record)
        data = line.encode("utf-8", "backslashreplace")
        try:
            if self._file is None:
                self._file = self._open()
            size = os.fstat(self._file.fileno()).st_size
            if size and size + len(data) > self.max_bytes:
                self._rotate()
                self._file = self._open()
            self._file.write(data)
            self._file.flush()
        except OSError:
            # A full disk or a read-only home must not stop the conversation.
            self.close()

    def _line(self, record: dict[str, Any]) -> str:
        try:
            line = json.dumps(record, ensure_ascii=False, default=str)
        except (TypeError, ValueError) as exc:  # a record that refers to itself, say
            line = json.dumps({"type": "unrecorded", "error": str(exc)})
        for secret in self._secrets:
            line = line.replace(secret, "[redacted]")
        return line.translate(_ESCAPE_C1) + "\n"

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


def default_audit_log(env: Mapping[str, str]) -> AuditLog:
    from .env import data_dir
    from .models import BUILTIN_PROVIDERS

    secrets = [env.get(p.api_key_env, "") for p in BUILTIN_PROVIDERS.values() if p.api_key_env]
    secrets += [v for k, v in env.items() if k.endswith(("_API_KEY", "_TOKEN"))]
    return AuditLog(data_dir(env) / "audit.jsonl", secrets)
