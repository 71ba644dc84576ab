"""`baton ask`, `baton profile validate`: run as a person would, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakellm import Reply

ROOT = Path(__file__).resolve().parent.parent


def write_profile(tmp_path: Path, llm, extra: str = "") -> Path:
    # In the config directory `baton()` gives: the person's own profile, trusted by location.
    path = tmp_path / "config" / "p.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""
name = "cli"
default_model = "alpha"

[providers.fo]
kind = "openai"
base_url = "{llm.openai_base}"
api_key_env = "FO_KEY"

[providers.fa]
kind = "anthropic"
base_url = "{llm.anthropic_base}"
api_key_env = "FA_KEY"

[models.alpha]
model = "fo/alpha"
input_price = 1.0
output_price = 2.0

[models.beta]
model = "fa/beta"

[models.gamma]
model = "fo/gamma"
{extra}
""")
    return path


def baton(*args: str, stdin: str | None = None, tmp: Path, key: str = "sk-fo-0123456789") -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "BATON_DATA_DIR": str(tmp / "data"),
        "BATON_CONFIG_DIR": str(tmp / "config"),
        "FO_KEY": key,
        "FA_KEY": "sk-fa-0123456789",
    }
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=tmp, timeout=60,
    )


def test_ask_streams_final_answer(fake_llm, tmp_path):
    fake_llm.script("alpha", Reply(text="The answer is 42.", usage=(10, 5)))
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "what?", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "The answer is 42.\n"
    assert r.stderr == ""


def test_ask_json_is_exactly_the_documented_object(fake_llm, tmp_path):
    fake_llm.script("alpha", Reply(tool_calls=[("transfer_to_beta", {"instructions": "finish it"})], usage=(10, 5)))
    fake_llm.script("beta", Reply(text="beta's answer", usage=(20, 7)))
    profile = write_profile(tmp_path, fake_llm, '[handoff]\ntargets = ["beta"]\n')
    r = baton("ask", "--profile", str(profile), "--json", "task", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"final_output", "model", "events", "alternatives", "usage", "cost_usd"}
    assert out["final_output"] == "beta's answer" and out["model"] == "beta"
    assert out["usage"] == {"input_tokens": 30, "output_tokens": 12}
    assert out["cost_usd"] == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)  # beta has no price
    handoff = next(e for e in out["events"] if e["type"] == "handoff")
    assert (handoff["from"], handoff["to"], handoff["instructions"]) == ("alpha", "beta", "finish it")
    assert "reason" in handoff
    assert [e["type"] for e in out["events"]] == ["turn", "handoff", "turn"]


def test_ask_json_with_a_huge_answer_is_the_same_json(fake_llm, tmp_path):
    # Written in pieces (strings past 64 KB a slice at a time): still one JSON line.
    answer = ("streaming tokens arrive \"quickly\" \\ ü 🎉\n" * 12_000)
    fake_llm.script("alpha", Reply(text=answer, usage=(10, 5)))
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "--json", "go", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    out = json.loads(r.stdout)
    assert out["final_output"] == answer and out["events"][-1]["text"] == answer


def test_ask_reads_stdin_and_takes_a_model(fake_llm, tmp_path):
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "-m", "gamma", "-", stdin="from stdin",
              tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "echo: from stdin\n"
    assert fake_llm.requests_for("gamma")


def test_ask_parallel_consensus_chain_pipeline(fake_llm, tmp_path):
    profile = str(write_profile(tmp_path, fake_llm))
    fake_llm.script("alpha", Reply(text="A1"))
    fake_llm.script("gamma", Reply(text="G1"), Reply(text="merged"))
    r = baton("ask", "--profile", profile, "--parallel", "alpha,gamma", "--synth", "gamma", "--json", "q", tmp=tmp_path)
    out = json.loads(r.stdout)
    assert out["final_output"] == "merged"
    par = next(e for e in out["events"] if e["type"] == "parallel")
    assert par["answers"] == {"alpha": "A1", "gamma": "G1"}

    fake_llm.script("alpha", Reply(text="first"))
    fake_llm.script("gamma", Reply(text="second"))
    fake_llm.script("beta", Reply(text="RANKING: B > A"))
    r = baton("ask", "--profile", profile, "--consensus", "alpha,gamma", "--judge", "beta", "--json", "q", tmp=tmp_path)
    out = json.loads(r.stdout)
    c = next(e for e in out["events"] if e["type"] == "consensus")
    assert set(c) >= {"models", "judge", "ranking", "winner"}
    assert c["judge"] == "beta" and c["winner"] == c["labels"]["B"] and c["ranking"][0] == c["winner"]
    assert out["final_output"] == {"alpha": "first", "gamma": "second"}[c["winner"]]

    fake_llm.script("alpha", Reply(tool_calls=[("transfer_to_gamma", {"instructions": "go"})]))
    fake_llm.script("gamma", Reply(text="chained"))
    r = baton("ask", "--profile", profile, "--chain", "alpha,gamma", "q", tmp=tmp_path)
    assert r.stdout == "chained\n", r.stderr

    fake_llm.script("alpha", Reply(text="stage one"))
    fake_llm.script("gamma", Reply(text="stage two"))
    r = baton("ask", "--profile", profile, "--pipeline", "alpha,gamma", "q", tmp=tmp_path)
    assert r.stdout == "stage two\n", r.stderr
    assert "stage one" in json.dumps(fake_llm.requests_for("gamma")[-1].body)


def test_ask_route_auto(fake_llm, tmp_path):
    profile = write_profile(tmp_path, fake_llm, '[routing.rules]\ncode_generation = "gamma"\n')
    r = baton("ask", "--profile", str(profile), "--route", "auto", "--json", "write a python function", tmp=tmp_path)
    out = json.loads(r.stdout)
    route = out["events"][0]
    assert route["type"] == "route" and route["model"] == "gamma" and route["task_type"] == "code_generation"
    assert out["model"] == "gamma"


def test_failures_are_one_line_with_documented_status(fake_llm, tmp_path):
    profile = str(write_profile(tmp_path, fake_llm))
    fake_llm.script("alpha", Reply(status=401, error="invalid key"))
    r = baton("ask", "--profile", profile, "hi", tmp=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "invalid key" in r.stderr and "Traceback" not in r.stderr
    assert "sk-fo" not in r.stderr

    r = baton("ask", "--profile", profile, "-m", "nowhere/x", "hi", tmp=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown provider 'nowhere'" in r.stderr

    r = baton("ask", "--profile", profile, "--parallel", "alpha", "--consensus", "alpha", "x", tmp=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1

    r = baton("ask", "--profile", str(tmp_path / "missing.toml"), "hi", tmp=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[models.a]\nmodel = "openai/gpt-4.1"\nprise = 3\n')
    r = baton("profile", "validate", str(bad), tmp=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith(f"{bad}:4:") and "prise" in r.stderr
    assert r.stderr.count("\n") == 1


def test_ask_stream_cut_with_no_fallback_fails_cleanly(fake_llm, tmp_path):
    fake_llm.script("alpha", *[Reply(text="half of it", cut_after=1)] * 3)
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "hi", tmp=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert all(line.startswith("baton ask: ") for line in lines)
    assert "stream cut" in lines[-1] and sum("answers again" in line for line in lines) == 2
    # every attempt sent the same first words: they are printed once, not once per retry
    assert r.stdout.count("half") == 1


def test_audit_log_written_without_keys(fake_llm, tmp_path):
    fake_llm.script("alpha", Reply(status=500, error="oops"), Reply(text="fine"))
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "hi", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    log = (tmp_path / "data" / "audit.jsonl").read_text()
    assert [json.loads(x)["type"] for x in log.splitlines()] == ["retry", "turn"]
    assert "sk-fo-0123456789" not in log


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "profiles").glob("*.toml")))
def test_example_profiles_validate(name, tmp_path):
    r = baton("profile", "validate", str(ROOT / "profiles" / name), tmp=tmp_path)
    assert r.returncode == 0, r.stderr


def test_core_imports_no_ui():
    code = (
        "import sys, importlib, pkgutil, tui.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'tui.core.'): importlib.import_module(m.name)\n"
        "print(sorted(x for x in ('textual', 'rich') if x in sys.modules))\n"
        "print(len([m for m in pkgutil.walk_packages(c.__path__, 'tui.core.')]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    leaked, count = r.stdout.splitlines()
    assert leaked == "[]"
    assert int(count) >= 15  # every module was walked, not an empty package


def test_ask_loads_only_the_headless_path(fake_llm, tmp_path):
    """No UI, MCP, profile-file or price-table code in a plain `baton ask`; the price
    table only until its rates are kept in the data directory."""
    fake_llm.script("a", Reply(text="short", usage=(10, 5)), Reply(text="short", usage=(10, 5)))
    code = (
        "import sys\nfrom tui.cli import main\nstatus = main(sys.argv[1:])\n"
        "never = ('textual', 'rich', 'mcp', 'tui.ui', 'tomli_w', 'tui.core.profile_io', 'tui.core.mcp')\n"
        "later = ('genai_prices', 'pydantic')\n"
        "print(' '.join(m for m in never + later if m in sys.modules), file=sys.stderr)\n"
        "import gc\nprint('frozen' if gc.get_freeze_count() else 'collectable', file=sys.stderr)\n"
        "raise SystemExit(status)\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BATON_DATA_DIR": str(tmp_path / "data"),
           "BATON_CONFIG_DIR": str(tmp_path / "config"), "OPENAI_API_KEY": "sk-test-0123456789",
           "OPENAI_BASE_URL": fake_llm.openai_base, "PYTHONPATH": str(ROOT)}
    loaded = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", code, "ask", "-m", "openai/a", "go"], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "short\n"
        *modules, collector = r.stderr.split()
        assert collector == "frozen"  # no collector passes over the run's objects at exit
        loaded.append(modules)
    first, second = loaded
    assert not set(first) - {"genai_prices", "pydantic"}  # the first run reads the table (a thread)
    assert second == []  # the rates it kept answer the second
