"""Helpers shared by the app tests (no tests here): profiles, screen text, waiting."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable

from rich.cells import cell_len
from textual.app import App

from tui.core.profile import HandoffConf, ModelDef, Profile, ProviderDef


def fake_profile(base_url: str = "http://127.0.0.1:9/v1", **overrides: object) -> Profile:
    """alpha, beta and gamma on a fake OpenAI-format provider; alpha answers first."""
    profile = Profile(
        name="test",
        description="three fake models",
        default_model="alpha",
        providers={"fake": ProviderDef(kind="openai", base_url=base_url)},
        models={
            "alpha": ModelDef(model="fake/alpha"),
            "beta": ModelDef(model="fake/beta"),
            "gamma": ModelDef(model="fake/gamma"),
        },
        handoff=HandoffConf(targets=["beta"]),
    )
    for key, value in overrides.items():
        setattr(profile, key, value)
    return profile


# One run of text in the SVG that App.export_screenshot() writes (Rich's SVG export):
# its column is x / 12.2 (20 px cells at Rich's 0.61 aspect ratio), its row in the clip id.
_SVG_TEXT = re.compile(r'<text [^>]*?x="([0-9.]+)"[^>]*?clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>')
_CELL_WIDTH = 20 * 0.61


def screen_text(app: App) -> str:
    """What the terminal shows, as plain text, read from the app's own screenshot."""
    rows: dict[int, list[tuple[int, str]]] = {}
    for x, row, text in _SVG_TEXT.findall(app.export_screenshot()):
        rows.setdefault(int(row), []).append((round(float(x) / _CELL_WIDTH), html.unescape(text).replace("\xa0", " ")))
    lines = []
    for row in range(app.size.height):
        line = ""
        for column, text in sorted(rows.get(row, [])):
            line += " " * max(0, column - cell_len(line)) + text
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


async def idle(pilot, app: App) -> None:
    """Wait until no run is streaming and the screen has settled."""
    await wait_for(pilot, lambda: not any(w.is_running for w in app.workers if w.group == "run"))
    await pilot.pause()
