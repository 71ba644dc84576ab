"""Profiles: the example files, validation errors as one line with places, saving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.core.profile import (
    ConsensusConf,
    Constraints,
    HandoffConf,
    Limits,
    McpServerDef,
    ModelDef,
    ParallelConf,
    PipelineConf,
    Profile,
    ProviderDef,
    Routing,
    Stage,
)
from tui.core.profile_io import (
    ProfileError,
    find_profile,
    load_profile,
    parse_profile,
    profile_from_dict,
    profile_to_dict,
    save_profile,
)

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
EXAMPLES = sorted(PROFILES.glob("*.toml"))


def error_of(text: str, path: str = "p.toml") -> str:
    with pytest.raises(ProfileError) as info:
        parse_profile(text, path)
    message = str(info.value)
    assert "\n" not in message
    return message


def full_profile() -> Profile:
    """A profile that sets every field to something other than its default."""
    return Profile(
        name="everything",
        description="Every field set",
        default_model="researcher",
        system_prompt='Line one\nline "two" with a \\ backslash\n\n  indented\ttab\n',
        providers={
            "work": ProviderDef(kind="anthropic", base_url="http://127.0.0.1:8080", api_key_env="WORK_API_KEY"),
            "local": ProviderDef(base_url="http://127.0.0.1:9000/v1"),
        },
        models={
            "researcher": ModelDef(
                model="openai/gpt-4.1",
                input_price=2.0,
                output_price=8.0,
                context_window=1047576,
                strengths=["research", "data_analysis"],
                latency_s=4.5,
                max_tokens=2048,
                temperature=0.2,
            ),
            "writer": ModelDef(model="work/claude-sonnet-4-5"),
            "gpt-4.1.mini": ModelDef(model="local/some-model"),  # dots in an alias
        },
        routing=Routing(
            mode="auto",
            rules={"research": "researcher", "code_generation": "writer", "legal": "gpt-4.1.mini"},
            tasks={"legal": ["contract", "clause"]},
            constraints=Constraints(max_cost_usd=0.02, max_latency_s=10.0, strengths=["research"]),
        ),
        handoff=HandoffConf(context="recent", recent_turns=3, targets=["writer", "openai/gpt-4o-mini"]),
        fallbacks={"researcher": ["writer", "claude-sonnet-4-5"], "writer": ["researcher"]},
        parallel=ParallelConf(models=["researcher", "writer"], synthesizer="writer"),
        consensus=ConsensusConf(models=["researcher", "writer", "o3"], judge="researcher"),
        pipeline=PipelineConf(
            stages=[
                Stage(model="researcher", instructions="Research:\n{input}", validate="nonempty"),
                Stage(model="writer", validate="json"),
                Stage(
                    model="writer",
                    instructions="Report on {input}",
                    validate="regex:^#",
                    checker="researcher",
                    check_question="Is it complete?",
                ),
            ]
        ),
        mcp_servers={
            "files": McpServerDef(command="python", args=["-m", "srv"], env={"A": "1"}, cwd="/tmp", approve=True),
            "remote": McpServerDef(
                url="http://127.0.0.1:9000/mcp", headers={"X-Token-Name": "T"}, timeout_s=5.0, start_timeout_s=12.5
            ),
            "search": McpServerDef(slug="dedalus-labs/brave-search-mcp"),
        },
        keymap={"handoff": "ctrl+h", "cancel": "escape"},
        limits=Limits(
            connect_timeout_s=3.0, first_token_timeout_s=20.0, idle_timeout_s=15.0, turn_timeout_s=90.0, budget_usd=1.5
        ),
    )


# ------------------------------------------------------------------- examples


def test_the_seven_example_profiles_exist():
    names = {p.stem for p in EXAMPLES}
    assert names == {
        "research-writer", "pipeline", "parallel-analysis", "consensus", "routing", "ollama", "dedalus",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_profile_loads_and_survives_a_save(path: Path, tmp_path: Path):
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.models
    save_profile(profile, tmp_path / "copy.toml")
    assert load_profile(tmp_path / "copy.toml") == profile


def test_examples_cover_the_workflows():
    rw = load_profile(PROFILES / "research-writer.toml")
    assert rw.handoff.targets and rw.fallbacks

    pipe = load_profile(PROFILES / "pipeline.toml")
    assert len(pipe.pipeline.stages) == 3
    assert all("{input}" in s.instructions for s in pipe.pipeline.stages)
    assert any(s.validate for s in pipe.pipeline.stages)

    par = load_profile(PROFILES / "parallel-analysis.toml")
    assert len(par.parallel.models) == 3 and par.parallel.synthesizer

    con = load_profile(PROFILES / "consensus.toml")
    assert len(con.consensus.models) == 3 and con.consensus.judge

    routing = load_profile(PROFILES / "routing.toml")
    assert routing.routing.mode == "auto"
    for task in ("code_generation", "data_analysis", "creative_writing", "quick_answer", "research"):
        assert task in routing.routing.rules
    assert routing.routing.constraints.max_cost_usd is not None
    assert all(m.input_price is not None and m.strengths for m in routing.models.values())

    ollama = load_profile(PROFILES / "ollama.toml")
    assert all(m.model.startswith("ollama/") for m in ollama.models.values())
    assert ollama.limits.first_token_timeout_s == 180.0
    assert not ollama.providers

    assert rw.limits.budget_usd == 5.0 and rw.limits.turn_timeout_s == 600.0

    dedalus = load_profile(PROFILES / "dedalus.toml")
    assert dedalus.models["researcher"].model == "dedalus/openai/gpt-4.1"
    assert dedalus.mcp_servers["search"].slug == "dedalus-labs/brave-search-mcp"


# ------------------------------------------------------------------ round trip


def test_a_profile_using_every_field_saves_and_loads_equal(tmp_path: Path):
    profile = full_profile()
    path = tmp_path / "full.toml"
    save_profile(profile, path)
    assert load_profile(path) == profile
    assert profile_from_dict(profile_to_dict(profile)) == profile


def test_saved_file_leaves_out_defaults_and_none(tmp_path: Path):
    path = tmp_path / "p.toml"
    save_profile(Profile(models={"w": ModelDef(model="gpt-4.1")}), path)
    text = path.read_text()
    assert text.strip() == 'name = "default"\n\n[models.w]\nmodel = "gpt-4.1"'
    assert load_profile(path) == Profile(models={"w": ModelDef(model="gpt-4.1")})


def test_carriage_returns_survive_a_save(tmp_path: Path):
    profile = Profile(system_prompt="one\r\ntwo\rthree\n")
    save_profile(profile, tmp_path / "p.toml")
    assert load_profile(tmp_path / "p.toml").system_prompt == "one\r\ntwo\rthree\n"


def test_a_file_without_a_name_is_named_after_the_file(tmp_path: Path):
    (tmp_path / "night-shift.toml").write_text('default_model = "gpt-4.1"\n')
    assert load_profile(tmp_path / "night-shift.toml").name == "night-shift"
    assert parse_profile('default_model = "gpt-4.1"\n').name == "default"


def test_ints_are_accepted_for_numbers():
    p = parse_profile('[models.a]\nmodel = "gpt-4.1"\ninput_price = 2\n')
    assert p.models["a"].input_price == 2.0 and isinstance(p.models["a"].input_price, float)


# ---------------------------------------------------------------- error lines


def test_syntax_error_has_tomllibs_line_and_column():
    assert error_of('name = "x"\nmodels = [\n  1 2]\n') == "p.toml:3:5: invalid TOML: Unclosed array"


def test_unknown_key_points_at_the_key():
    text = 'name = "x"\n\n[models.writer]\nmodel = "openai/gpt-4.1"\n  prise = 3\n'
    assert error_of(text) == "p.toml:5:3: models.writer.prise: unknown key"


def test_unknown_key_suggests_the_close_one():
    assert error_of("[handoff]\ncontxt = \"full\"\n") == (
        'p.toml:2:1: handoff.contxt: unknown key (did you mean "context"?)'
    )


def test_wrong_choice_lists_the_choices():
    assert error_of('[routing]\nmode = "fast"\n') == (
        'p.toml:2:1: routing.mode: expected one of "manual", "auto", got "fast"'
    )


def test_wrong_type_for_a_number():
    text = '[models.researcher]\nmodel = "gpt-4.1"\ninput_price = "2.0"\n'
    assert error_of(text) == "p.toml:3:1: models.researcher.input_price: expected a number, got string"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("input_price = true", "expected a number, got boolean"),
        ("context_window = true", "expected an integer, got boolean"),
        ("context_window = 1.5", "expected an integer, got float"),
        ("strengths = \"research\"", "expected an array, got string"),
    ],
)
def test_bools_are_not_numbers_and_other_types(line: str, expected: str):
    assert error_of(f'[models.a]\nmodel = "gpt-4.1"\n{line}\n').endswith(expected)


def test_dotted_and_inline_keys_are_placed_too():
    assert error_of("routing.mode = 5\n") == 'p.toml:1:1: routing.mode: expected one of "manual", "auto", got integer'
    message = error_of('routing = { mode = "auto", rules = { research = "zz" } }\n')
    assert message.startswith("p.toml:1:38: routing.rules.research: unknown model 'zz'")


def test_position_unknown_falls_back_to_the_key_path():
    with pytest.raises(ProfileError) as info:
        profile_from_dict({"routing": {"mode": "fast"}}, "p.toml")
    assert str(info.value) == 'p.toml: routing.mode: expected one of "manual", "auto", got "fast"'


def test_unknown_alias_names_the_key_path():
    message = error_of('default_model = "wrtier"\n[models.writer]\nmodel = "gpt-4.1"\n')
    assert message.startswith("p.toml:1:1: default_model: unknown model 'wrtier'")
    assert "writer" in message  # the aliases that do exist


@pytest.mark.parametrize(
    "text, key",
    [
        ('[handoff]\ntargets = ["a", "nope"]', "p.toml:5:17: handoff.targets[1]:"),
        ("[fallbacks]\nnope = [\"a\"]", "p.toml:5:1: fallbacks.nope:"),
        ("[fallbacks]\na = [\"nope\"]", "p.toml:5:6: fallbacks.a[0]:"),
        ('[parallel]\nmodels = ["a"]\nsynthesizer = "nope"', "p.toml:6:1: parallel.synthesizer:"),
        ('[consensus]\nmodels = ["nope"]', "p.toml:5:11: consensus.models[0]:"),
        ('[consensus]\njudge = "nope"', "p.toml:5:1: consensus.judge:"),
        ('[routing.rules]\nresearch = "nope"', "p.toml:5:1: routing.rules.research:"),
        (
            '[[pipeline.stages]]\nmodel = "a"\n[[pipeline.stages]]\nmodel = "nope"',
            "p.toml:7:1: pipeline.stages[1].model:",
        ),
        ('[[pipeline.stages]]\nmodel = "a"\nchecker = "nope"', "p.toml:6:1: pipeline.stages[0].checker:"),
    ],
)
def test_every_reference_must_exist(text: str, key: str):
    message = error_of('[models.a]\nmodel = "gpt-4.1"\n\n' + text + "\n")
    assert message.startswith(key + " unknown model 'nope'")


def test_a_reference_may_be_a_model_reference_instead_of_an_alias():
    p = parse_profile('[handoff]\ntargets = ["openai/gpt-4o-mini", "claude-sonnet-4-5", "ollama/llama3.2"]\n')
    assert len(p.handoff.targets) == 3
    message = error_of('[handoff]\ntargets = ["nowhere/model"]\n')
    assert message == (
        "p.toml:2:12: handoff.targets[0]: unknown provider 'nowhere' in model 'nowhere/model'"
        " (aliases in this profile: none)"
    )


def test_a_profile_provider_makes_references_valid():
    p = parse_profile('[providers.work]\nbase_url = "http://x/v1"\n[models.a]\nmodel = "work/m-1"\n')
    assert p.models["a"].model == "work/m-1"


def test_an_alias_cannot_point_at_another_alias():
    message = error_of('[models.a]\nmodel = "gpt-4.1"\n[models.b]\nmodel = "a"\n')
    assert message.startswith("p.toml:4:1: models.b.model: 'a' is an alias")


def test_a_missing_required_key_points_at_its_table():
    assert error_of('[models.a]\ninput_price = 1\n') == 'p.toml:1:1: models.a: missing required key "model"'


@pytest.mark.parametrize("value", ["sk-abc123", "sk-proj-ABCDEF", "my key", "123ABC"])
def test_an_api_key_in_place_of_a_variable_name_is_rejected(value: str):
    message = error_of(f'[providers.work]\nbase_url = "http://x"\napi_key_env = "{value}"\n')
    assert message.startswith("p.toml:3:1: providers.work.api_key_env: this looks like an API key")
    assert "NAME" in message
    assert value not in message  # the error line never repeats the key


def test_provider_rules():
    assert error_of('[providers.w]\nkind = "gemini"\nbase_url = "x"\n') == (
        'p.toml:2:1: providers.w.kind: expected one of "openai", "anthropic", got "gemini"'
    )
    assert error_of('[providers.w]\nkind = "openai"\n').startswith("p.toml:1:1: providers.w.base_url: needs a base_url")


def test_mcp_server_needs_exactly_one_way_to_reach_it():
    assert error_of('[mcp_servers.a]\ncommand = "x"\nurl = "http://y"\n') == (
        "p.toml:1:1: mcp_servers.a: needs exactly one of command (stdio), url (HTTP) or slug (hosted),"
        " got command and url"
    )
    assert error_of("[mcp_servers.a]\napprove = true\n").endswith("got none")
    assert error_of('[mcp_servers.a]\nurl = "http://y"\nargs = ["x"]\n').startswith(
        "p.toml:3:1: mcp_servers.a.args: only applies to a server given by command"
    )


def test_handoff_rules():
    assert error_of('[handoff]\ncontext = "all"\n') == (
        'p.toml:2:1: handoff.context: expected one of "full", "summary", "recent", got "all"'
    )
    assert error_of("[handoff]\nrecent_turns = 0\n") == "p.toml:2:1: handoff.recent_turns: must be at least 1"


def test_stage_validate_criteria():
    base = '[[pipeline.stages]]\nmodel = "gpt-4.1"\n'
    assert error_of(base + 'validate = "yaml"\n').startswith("p.toml:3:1: pipeline.stages[0].validate: expected")
    assert "bad regular expression" in error_of(base + 'validate = "regex:("\n')
    assert error_of(base + 'check_question = "ok?"\n') == (
        "p.toml:3:1: pipeline.stages[0].check_question: needs a checker model to ask"
    )


def test_unknown_top_level_key_and_array_of_tables_item():
    assert error_of('name = "x"\ncolour = "red"\n') == "p.toml:2:1: colour: unknown key"
    text = '[[pipeline.stages]]\nmodel = "gpt-4.1"\n\n[[pipeline.stages]]\nmodel = "gpt-4.1"\nextra = 1\n'
    assert error_of(text) == "p.toml:6:1: pipeline.stages[1].extra: unknown key"


def test_multiline_strings_do_not_confuse_positions():
    text = 'system_prompt = """\n[models.fake]\nprise = 1\n"""\n[models.real]\nmodel = "gpt-4.1"\nprise = 1\n'
    assert error_of(text) == "p.toml:7:1: models.real.prise: unknown key"


# ------------------------------------------------------------------- the file


def test_unreadable_files_are_one_line_profile_errors(tmp_path: Path):
    cases = {
        tmp_path / "missing.toml": "no such file",
        tmp_path: "is a directory, not a file",
    }
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'name = "caf\xe9"\n')
    cases[bad] = "1:12: not valid UTF-8"
    for path, expected in cases.items():
        with pytest.raises(ProfileError) as info:
            load_profile(path)
        assert str(info.value).startswith(str(path) + (":" if expected[0].isdigit() else ": "))
        assert str(info.value).endswith(expected)


def test_load_profile_raises_only_profile_errors(tmp_path: Path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ProfileError):
        load_profile(path)


def test_save_is_atomic_when_the_rename_fails(tmp_path: Path, monkeypatch):
    path = tmp_path / "p.toml"
    save_profile(Profile(name="old"), path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_profile(Profile(name="new"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.toml"]


def test_find_profile_by_path_and_by_name(tmp_path: Path, monkeypatch):
    config = tmp_path / "config"
    (config / "profiles").mkdir(parents=True)
    (config / "profiles" / "mine.toml").write_text('name = "mine"\n')
    work = tmp_path / "work"
    (work / "profiles").mkdir(parents=True)
    (work / "profiles" / "local.toml").write_text('name = "local"\n')
    (work / "profiles" / "mine.toml").write_text('name = "shadowed"\n')
    monkeypatch.setenv("BATON_CONFIG_DIR", str(config))
    monkeypatch.chdir(work)

    assert find_profile("profiles/local.toml") == Path("profiles/local.toml")
    assert find_profile("mine") == config / "profiles" / "mine.toml"
    assert find_profile("local") == Path("profiles/local.toml")
    assert load_profile(find_profile("local.toml")).name == "local"
    with pytest.raises(ProfileError) as info:
        find_profile("nothing")
    assert str(info.value).startswith("nothing: no such profile (looked for ")


def test_reading_profiles_imports_no_writer_and_no_terminal_code():
    code = (
        "import sys, tui.core.profile_io, tui.core.session\n"
        "print(sorted(m for m in ('tomli_w', 'textual', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readmes_profile_keys_are_a_valid_profile(tmp_path) -> None:
    """The README shows the profile keys the examples do not: they must stay true."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("Profile keys beyond the examples")[1].split("```toml")[1].split("```")[0]
    path = tmp_path / "keys.toml"
    path.write_text('name = "keys"\ndefault_model = "thinker"\n' + block)
    profile = load_profile(path)
    assert profile.handoff.handback and profile.consensus.swap
    assert profile.models["thinker"].thinking_budget == 4096 and profile.models["reasoner"].reasoning_effort == "high"
    assert profile.mcp_servers["docs"].transport == "auto" and profile.mcp_servers["docs"].approve
