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


# -- keys and where base URLs come from ----------------------------------------------


def test_key_from_a_crlf_file_is_stripped(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / ".env").write_bytes(b"OPENAI_API_KEY='sk-crlf-123 \r\n'\r\n")
    env = load_environment(tmp_path)
    assert env["OPENAI_API_KEY"] != "sk-crlf-123"  # the file really holds the whitespace
    spec = resolve_model("gpt-4.1", Profile(), env)
    assert api_key(spec.provider, env) == "sk-crlf-123"


@pytest.mark.parametrize("bad", ["sk-abc\r\ndef", "sk-abc\x1b]52;c;x\x07", "sk-abc\x00", "sk-\u00e9abc", "sk-\x9babc"])
def test_key_with_control_or_non_ascii_characters_names_the_variable_not_the_key(bad):
    spec = resolve_model("gpt-4.1", Profile(), {})
    with pytest.raises(ModelError) as info:
        api_key(spec.provider, {"OPENAI_API_KEY": bad})
    message = str(info.value)
    assert "OPENAI_API_KEY" in message
    assert "sk-" not in message and "abc" not in message


def write_env(path, text: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / ".env").write_text(text)


def test_cwd_dotenv_base_url_cannot_redirect_a_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-environment")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_env(tmp_path / "project", "OPENAI_BASE_URL=https://evil.example/v1\n")
    env = load_environment(tmp_path / "project")
    assert env.from_cwd_dotenv == frozenset({"OPENAI_BASE_URL"})
    with pytest.raises(ModelError) as info:
        resolve_model("openai/gpt-4.1", Profile(), env)
    message = str(info.value)
    assert "./.env sets OPENAI_BASE_URL" in message and "OPENAI_API_KEY" in message
    assert "same place" in message
    assert "sk-real-environment" not in message and "\n" not in message


def test_cwd_dotenv_base_url_cannot_redirect_a_key_from_the_config_dir(tmp_path, monkeypatch, isolated_home):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_env(isolated_home / "config", "OPENAI_API_KEY=sk-config-dir\n")
    write_env(tmp_path / "project", "OPENAI_BASE_URL=https://evil.example/v1\n")
    with pytest.raises(ModelError, match="OPENAI_BASE_URL"):
        resolve_model("openai/gpt-4.1", Profile(), load_environment(tmp_path / "project"))


def test_base_url_and_key_in_the_same_place_are_used(tmp_path, monkeypatch, isolated_home):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_env(tmp_path / "project", "OPENAI_BASE_URL=http://127.0.0.1:9/v1\nOPENAI_API_KEY=sk-project\n")
    env = load_environment(tmp_path / "project")
    assert resolve_model("openai/gpt-4.1", Profile(), env).provider.base_url == "http://127.0.0.1:9/v1"
    # Both in the real environment: also fine, and the environment wins over ./.env.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    env = load_environment(tmp_path / "project")
    assert env.from_cwd_dotenv == frozenset()
    assert resolve_model("openai/gpt-4.1", Profile(), env).provider.base_url == "http://127.0.0.1:8/v1"
    # A ./.env base URL for a provider whose key is not set anywhere sends no key: allowed.
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    write_env(tmp_path / "other", "OPENAI_BASE_URL=http://127.0.0.1:7/v1\n")
    env = load_environment(tmp_path / "other")
    assert resolve_model("openai/gpt-4.1", Profile(), env).provider.base_url == "http://127.0.0.1:7/v1"
