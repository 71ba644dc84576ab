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


def load_environment(cwd: Path | None = None) -> dict[str, str]:
    """The process environment over `.env` files (working directory, then config dir).

    `.env` values are read, never exported into os.environ, so that child processes
    (MCP servers) do not inherit keys they were not given.
    """
    merged: dict[str, str] = {}
    cwd = Path.cwd() if cwd is None else cwd
    for path in (config_dir() / ".env", cwd / ".env"):
        if path.is_file():
            from dotenv import dotenv_values  # only when there is a file: off the start-up path

            merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged
