"""The audit trail: every timeline event appended to a JSONL file as it happens."""

from __future__ import annotations

import json

from collections.abc import Iterable
from pathlib import Path
from typing import Any


class AuditLog:
    """Appends one JSON object per line. Any secret given is scrubbed from each line
    before it is written, as a last guard: records never carry keys by construction."""

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self._secrets = [s for s in secrets if s and len(s) >= 8]
        self._file = None

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str)
        for secret in self._secrets:
            line = line.replace(secret, "[redacted]")
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(line + "\n")
            self._file.flush()
        except OSError:
            # A full disk or a read-only home must not stop the conversation.
            self._file = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def default_audit_log(env: dict[str, str]) -> AuditLog:
    from .env import data_dir
    from .models import BUILTIN_PROVIDERS

    secrets = [env.get(p.api_key_env, "") for p in BUILTIN_PROVIDERS.values() if p.api_key_env]
    secrets += [v for k, v in env.items() if k.endswith(("_API_KEY", "_TOKEN"))]
    return AuditLog(data_dir(env) / "audit.jsonl", secrets)


