"""Where Baton keeps things, and the environment it reads keys from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("BATON_CONFIG_DIR"):
        return Path(env["BATON_CONFIG_DIR"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "baton"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("BATON_DATA_DIR"):
        return Path(env["BATON_DATA_DIR"])
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "baton"


class Environment(dict[str, str]):
    """The variables Baton reads, and which of them came from the working directory's
    `.env` (a file anyone can drop in a project) rather than the real environment or
    Baton's own config directory."""

    def __init__(self, values: Mapping[str, str] | None = None, from_cwd_dotenv: frozenset[str] = frozenset()) -> None:
        super().__init__(values or {})
        self.from_cwd_dotenv = from_cwd_dotenv


def load_environment(cwd: Path | None = None) -> Environment:
    """The process environment over `.env` files (the config dir's, then the working
    directory's, which wins over it).

    `.env` values are read, never exported into os.environ, so that child processes
    (MCP servers) do not inherit keys they were not given.
    """
    merged: dict[str, str] = {}
    from_cwd: set[str] = set()
    cwd = Path.cwd() if cwd is None else cwd
    for path in (config_dir() / ".env", cwd / ".env"):
        if path.is_file():
            # Imported only when there is a file: off the start-up path.
            from dotenv import dotenv_values

            values = {k: v for k, v in dotenv_values(path).items() if v is not None}
            merged.update(values)
            if path == cwd / ".env":
                from_cwd = set(values)
            else:
                from_cwd -= set(values)
    merged.update(os.environ)
    return Environment(merged, frozenset(from_cwd - set(os.environ)))
