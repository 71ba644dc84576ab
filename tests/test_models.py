"""Model references, built-in providers, keys from .env, and prices for known models."""

from __future__ import annotations

import pytest
from fakellm import Reply

from tui.core.engine import Engine, drain
from tui.core.env import load_environment
from tui.core.events import RunFinished
from tui.core.models import ModelError, api_key, resolve_model
from tui.core.profile import ModelDef, Profile


@pytest.mark.parametrize(
    "ref, provider, model_id",
    [
        ("openai/gpt-4.1", "openai", "gpt-4.1"),
        ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("claude-3-5-sonnet-20241022", "anthropic", "claude-3-5-sonnet-20241022"),
        ("gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("o3-mini", "openai", "o3-mini"),
        ("ollama/llama3.2", "ollama", "llama3.2"),
        ("dedalus/openai/gpt-4.1", "dedalus", "openai/gpt-4.1"),
        ("openrouter/anthropic/claude-3.5-sonnet", "openrouter", "anthropic/claude-3.5-sonnet"),
    ],
)
def test_references_resolve(ref, provider, model_id):
    spec = resolve_model(ref, Profile(), {})
    assert (spec.provider.name, spec.model_id) == (provider, model_id)


def test_aliases_and_base_urls():
    p = Profile(models={"writer": ModelDef("anthropic/claude-sonnet-4-5", input_price=3, output_price=15)})
    spec = resolve_model("writer", p, {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/"})
    assert spec.name == "writer" and spec.provider.base_url == "http://127.0.0.1:1" and spec.input_price == 3
    assert resolve_model("ollama/x", p, {}).provider.base_url == "http://localhost:11434/v1"
    assert resolve_model("ollama/x", p, {"OLLAMA_HOST": "box:11434"}).provider.base_url == "http://box:11434/v1"
    assert resolve_model("ollama/x", p, {}).provider.api_key_env is None


@pytest.mark.parametrize("ref", ["mystery-model", "nowhere/gpt-4", ""])
def test_unknown_models_are_one_line_errors(ref):
    with pytest.raises(ModelError) as e:
        resolve_model(ref, Profile(), {})
    assert "\n" not in str(e.value) and "unknown" in str(e.value)


def test_missing_key_names_the_variable():
    spec = resolve_model("gpt-4.1", Profile(), {})
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        api_key(spec.provider, {})
    assert api_key(spec.provider, {"OPENAI_API_KEY": "k"}) == "k"


def test_env_file_is_read_but_not_exported(tmp_path, monkeypatch):
    import os

    (tmp_path / ".env").write_text("BATON_TEST_ONLY_KEY=from-dotenv\nOPENAI_API_KEY=dotenv-key\n")
    monkeypatch.setenv("OPENAI_API_KEY", "process-key")
    monkeypatch.setenv("BATON_CONFIG_DIR", str(tmp_path / "cfg"))
    env = load_environment(tmp_path)
    assert env["BATON_TEST_ONLY_KEY"] == "from-dotenv"
    assert env["OPENAI_API_KEY"] == "process-key"  # the process environment wins
    assert "BATON_TEST_ONLY_KEY" not in os.environ


async def test_builtin_provider_with_table_prices(fake_llm):
    env = {"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": fake_llm.openai_base}
    fake_llm.script("gpt-4o-mini", Reply(text="hi", usage=(1_000_000, 0)))
    events = await drain(Engine(Profile(default_model="gpt-4o-mini"), env=env).send("hello"))
    done = events[-1]
    assert isinstance(done, RunFinished)
    assert done.cost_usd == pytest.approx(0.15)  # gpt-4o-mini input price, USD per million
