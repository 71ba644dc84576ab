"""Helpers shared by the app tests (no tests here): profiles, screen text, waiting."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

from rich.console import Console
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


def screen_text(app: App) -> str:
    """What the terminal shows, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      legacy_windows=False, color_system=None)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


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
