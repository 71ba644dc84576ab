"""Shared fixtures: `fake_llm` is a started FakeLLM on 127.0.0.1, stopped after the test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakellm import FakeLLM  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test writes to the real home: sessions, audit logs and crash logs land here."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BATON_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("BATON_CONFIG_DIR", str(home / "config"))
    return home


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()
