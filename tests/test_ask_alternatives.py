"""`baton ask --json` lists every answer to the question: a round's columns, a cut attempt
a fallback replaced, and which one the conversation goes on from."""

from __future__ import annotations

import json

from fakellm import Reply
from test_cli import baton, write_profile


def test_a_round_without_synthesis_lists_each_column(fake_llm, tmp_path):
    profile = str(write_profile(tmp_path, fake_llm))
    fake_llm.script("alpha", Reply(text="from alpha"))
    fake_llm.script("gamma", Reply(text="from gamma"))
    fake_llm.script("beta", Reply(text="RANKING: B > A"))
    r = baton("ask", "--profile", profile, "--consensus", "alpha,gamma", "--judge", "beta", "--json", "q", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    columns = {a["model"]: a for a in out["alternatives"] if a["lane"]}
    assert {m: a["text"] for m, a in columns.items()} == {"alpha": "from alpha", "gamma": "from gamma"}
    chosen = [a for a in out["alternatives"] if a["chosen"]]
    assert len(chosen) == 1 and chosen[0]["text"] == out["final_output"]


def test_a_fallback_keeps_the_cut_attempt_as_an_alternative(fake_llm, tmp_path):
    profile = str(write_profile(tmp_path, fake_llm, '[fallbacks]\nalpha = ["gamma"]\n'))
    fake_llm.script("alpha", *[Reply(text="half an answer that breaks", cut_after=2)] * 4)
    fake_llm.script("gamma", Reply(text="a whole answer"))
    r = baton("ask", "--profile", profile, "--json", "q", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["final_output"] == "a whole answer"
    by_model = {a["model"]: a for a in out["alternatives"]}
    assert by_model["gamma"]["chosen"] and not by_model["gamma"]["partial"]
    assert by_model["alpha"]["partial"] and not by_model["alpha"]["chosen"]
    assert "half an answer that breaks".startswith(by_model["alpha"]["text"]) and by_model["alpha"]["text"]


def test_a_plain_answer_is_its_own_only_alternative(fake_llm, tmp_path):
    fake_llm.script("alpha", Reply(text="just this"))
    r = baton("ask", "--profile", str(write_profile(tmp_path, fake_llm)), "--json", "q", tmp=tmp_path)
    out = json.loads(r.stdout)
    only = {"model": "alpha", "text": "just this", "lane": None, "partial": False, "chosen": True}
    assert out["alternatives"] == [only]
