"""Handoffs that come back and rounds that can be trusted: consult, hand back, the same
model several times in a round, a judge that sees the conversation and is asked twice."""

from __future__ import annotations

import json

from fakellm import FakeLLM, Reply

from tui.core.engine import Engine, drain
from tui.core.events import ConsensusEvent, ConsultEvent, HandoffEvent, ParallelEvent, RunFinished, ToolCallEvent
from tui.core.profile import ConsensusConf, HandoffConf, ModelDef, Profile, ProviderDef

ENV = {"FO_KEY": "sk-openai-secret-1234", "FA_KEY": "sk-anthropic-secret-5678"}


def engine(llm: FakeLLM, **kw: object) -> Engine:
    profile = Profile(
        name="t", default_model="alpha",
        providers={"fo": ProviderDef(kind="openai", base_url=llm.openai_base, api_key_env="FO_KEY"),
                   "fa": ProviderDef(kind="anthropic", base_url=llm.anthropic_base, api_key_env="FA_KEY")},
        models={"alpha": ModelDef("fo/alpha", input_price=1.0, output_price=2.0), "beta": ModelDef("fa/beta"),
                "gamma": ModelDef("fo/gamma")},
        handoff=HandoffConf(targets=["beta"]),
    )
    for key, value in kw.items():
        setattr(profile, key, value)
    return Engine(profile, env=ENV, seed=3)


async def test_consult_returns_the_answer_as_a_tool_result_and_control_stays(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(tool_calls=[("consult_beta", {"question": "is 7 prime?"})]),
                    Reply(text="beta agrees: prime"), Reply(text="still me"))
    fake_llm.script("beta", Reply(text="yes, 7 is prime", usage=(40, 6)))
    e = engine(fake_llm)
    events = await drain(e.send("check 7"))
    consult = next(ev for ev in events if isinstance(ev, ConsultEvent))
    assert (consult.from_model, consult.to_model, consult.question) == ("alpha", "beta", "is 7 prime?")
    assert consult.answer == "yes, 7 is prime" and consult.usage == {"input_tokens": 40, "output_tokens": 6}
    assert not any(isinstance(ev, HandoffEvent) for ev in events)
    # the answer went back to alpha as the tool's result, and alpha answered
    assert "yes, 7 is prime" in json.dumps(fake_llm.requests_for("alpha")[-1].body["messages"])
    assert isinstance(events[-1], RunFinished) and events[-1].model == "alpha"
    assert "is 7 prime?" in json.dumps(fake_llm.requests_for("beta")[-1].body["messages"])
    assert e.active_model == "alpha"
    await drain(e.send("and now?"))
    assert len(fake_llm.requests_for("alpha")) == 3  # control stayed with alpha
    record = consult.to_record()
    assert record["type"] == "consult" and record["from"] == "alpha" and record["to"] == "beta"


async def test_a_transfer_hands_back_when_handback_is_on(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(tool_calls=[("transfer_to_beta", {"instructions": "write the poem"})]))
    fake_llm.script("beta", Reply(text="a poem"))
    e = engine(fake_llm, handoff=HandoffConf(targets=["beta"], handback=True))
    events = await drain(e.send("a poem please"))
    handoffs = [ev for ev in events if isinstance(ev, HandoffEvent)]
    assert [(h.from_model, h.to_model, h.reason) for h in handoffs] == [("alpha", "beta", "tool"),
                                                                         ("beta", "alpha", "handback")]
    assert e.active_model == "alpha"


async def test_a_user_handoff_with_back_returns(fake_llm: FakeLLM) -> None:
    fake_llm.script("beta", Reply(text="done by beta"))
    e = engine(fake_llm)
    events = await drain(e.handoff("beta", "do this part", back=True))
    assert [(h.from_model, h.to_model) for h in events if isinstance(h, HandoffEvent)] == [("alpha", "beta"),
                                                                                           ("beta", "alpha")]
    assert e.active_model == "alpha"


async def test_one_model_three_times_in_a_round(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="take one"), Reply(text="take two"), Reply(text="take three"))
    e = engine(fake_llm)
    events = await drain(e.parallel("sample me", ["alpha", "alpha", "alpha"]))
    outcome = next(ev for ev in events if isinstance(ev, ParallelEvent))
    assert list(outcome.answers) == ["alpha", "alpha#2", "alpha#3"]
    assert sorted(outcome.answers.values()) == ["take one", "take three", "take two"]
    assert len(fake_llm.requests_for("alpha")) == 3


async def test_the_judge_sees_the_conversation_and_is_asked_twice_with_swap(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="earlier answer"), Reply(text="alpha's answer"))
    fake_llm.script("beta", Reply(text="beta's answer"))
    fake_llm.script("gamma", Reply(text="RANKING: A > B"), Reply(text="RANKING: A > B"))
    e = engine(fake_llm, consensus=ConsensusConf(swap=True))
    await drain(e.send("some context first"))
    events = await drain(e.consensus("which is better?", ["alpha", "beta"], "gamma"))
    judged = fake_llm.requests_for("gamma")
    assert len(judged) == 2
    assert "some context first" in json.dumps(judged[0].body["messages"])
    outcome = next(ev for ev in events if isinstance(ev, ConsensusEvent))
    assert outcome.swap_agrees is False  # "A" first both times, but A was a different model the second time
    assert outcome.labels["A"] in ("alpha", "beta")


async def test_parallel_answers_are_joined_in_the_order_given(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="from alpha", delay=0.3))
    fake_llm.script("gamma", Reply(text="from gamma"))
    events = await drain(engine(fake_llm).parallel("q", ["alpha", "gamma"]))
    final = events[-1]
    assert isinstance(final, RunFinished)
    assert final.final_output.index("from alpha") < final.final_output.index("from gamma")
    assert not any(isinstance(ev, ToolCallEvent) for ev in events)


def test_the_consult_tools_description_names_its_target() -> None:
    from tui.core.handoff import consult_spec

    spec = consult_spec("consult_beta", "beta")
    assert "{" not in spec.description and spec.description.count("beta") == 2
