"""The person's own layout and theme choices, kept in config_dir/ui.toml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def read_ui_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The person's layout and theme choices (config_dir/ui.toml); nothing when unreadable."""
    import tomllib

    from tui.core.env import config_dir

    try:
        return tomllib.loads((config_dir(env) / "ui.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_ui_settings(env: Mapping[str, str], **changes: Any) -> None:
    from tui.core.env import config_dir
    from tui.core.files.tomlfile import atomic_write, dump_toml

    settings = {**read_ui_settings(env), **{k: v for k, v in changes.items() if v is not None}}
    try:
        atomic_write(config_dir(env) / "ui.toml", dump_toml(settings))
    except (OSError, TypeError, ValueError):
        return
