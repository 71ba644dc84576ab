"""Conversations as trees in the engine: regenerate, edit and branch, pick a round's answer;
each checked by what the next request sends to the model."""

from __future__ import annotations

import json

from fakellm import FakeLLM, Reply

from tui.core.engine import Engine, drain
from tui.core.events import RunFailed, RunFinished
from tui.core.profile import ModelDef, Profile, ProviderDef

ENV = {"FO_KEY": "sk-openai-secret-1234"}


def engine(llm: FakeLLM) -> Engine:
    profile = Profile(
        name="t", default_model="alpha",
        providers={"fo": ProviderDef(kind="openai", base_url=llm.openai_base, api_key_env="FO_KEY")},
        models={m: ModelDef(f"fo/{m}") for m in ("alpha", "beta", "gamma")},
    )
    return Engine(profile, env=ENV)


def sent(llm: FakeLLM, model: str) -> str:
    """The last request's messages to `model`, as JSON text."""
    return json.dumps(llm.requests_for(model)[-1].body["messages"])


async def test_regenerate_with_another_model_keeps_both_and_goes_on_from_the_new_one(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="alpha's take"), Reply(text="next from alpha"))
    fake_llm.script("beta", Reply(text="beta's take"))
    e = engine(fake_llm)
    await drain(e.send("question one"))
    events = await drain(e.regenerate("beta"))
    assert isinstance(events[-1], RunFinished) and events[-1].final_output == "beta's take"
    answers = e.conversation.siblings(e.conversation.leaf or "")
    assert [m.content for m in answers] == ["alpha's take", "beta's take"]
    assert "alpha's take" not in sent(fake_llm, "beta")  # the regenerated turn saw only the question
    await drain(e.send("and then?"))
    body = sent(fake_llm, "alpha")
    assert "beta's take" in body and "alpha's take" not in body


async def test_edit_branches_from_before_the_question_and_keeps_the_old_branch(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="a1"), Reply(text="a2"), Reply(text="a2 edited"))
    e = engine(fake_llm)
    await drain(e.send("first"))
    await drain(e.send("second"))
    old_leaf = e.conversation.leaf
    second = e.conversation.path()[-2]
    await drain(e.edit(second.id, "second, better"))
    body = sent(fake_llm, "alpha")
    assert "second, better" in body and '"second"' not in body and "a2" not in body and "a1" in body
    assert [m.content for m in e.conversation.path()] == ["first", "a1", "second, better", "a2 edited"]
    assert old_leaf in e.conversation.nodes and len(e.conversation.leaves()) == 2
    e.select(old_leaf)  # the old branch can be gone back to
    assert [m.content for m in e.conversation.path()][-1] == "a2"


async def test_pick_goes_on_with_one_answer_of_a_round_alone(fake_llm: FakeLLM) -> None:
    fake_llm.script("alpha", Reply(text="alpha says tabs"), Reply(text="follow-up"))
    fake_llm.script("beta", Reply(text="beta says spaces"))
    e = engine(fake_llm)
    await drain(e.parallel("tabs or spaces?", ["alpha", "beta"]))
    picked = e.pick(2)
    assert picked.content == "beta says spaces"
    await drain(e.send("why?"))
    body = sent(fake_llm, "alpha")
    assert "beta says spaces" in body and "alpha says tabs" not in body


async def test_regenerate_on_an_empty_conversation_says_why(fake_llm: FakeLLM) -> None:
    events = await drain(engine(fake_llm).regenerate())
    assert isinstance(events[-1], RunFailed) and "nothing to regenerate" in events[-1].error


async def test_a_budget_stops_a_stream_keeps_the_partial_and_refuses_the_next_run(fake_llm: FakeLLM) -> None:
    from tui.core.events import FallbackEvent, TurnEvent
    from tui.core.profile import Limits

    fake_llm.script("alpha", Reply(text="costly " * 2000, chunk_delay=0.0))
    e = engine(fake_llm)
    e.profile.models["alpha"].input_price = 1000.0
    e.profile.models["alpha"].output_price = 1000.0
    e.profile.fallbacks = {"alpha": ["beta"]}
    e.profile.limits = Limits(budget_usd=0.5)
    events = await drain(e.send("spend"))
    failed = events[-1]
    assert isinstance(failed, RunFailed) and "budget of $0.50" in failed.error
    partial = [ev for ev in events if isinstance(ev, TurnEvent) and ev.partial]
    assert partial and 0 < len(partial[0].text) < len("costly " * 2000)
    assert not any(isinstance(ev, FallbackEvent) for ev in events)  # no other model spends past it
    assert len(fake_llm.requests_for("beta")) == 0


async def test_unknown_prices_cannot_be_held_to_a_budget(fake_llm: FakeLLM) -> None:
    from tui.core.profile import Limits

    e = engine(fake_llm)
    e.profile.limits = Limits(budget_usd=1.0)
    events = await drain(e.send("hi"))
    assert isinstance(events[-1], RunFailed) and "no price known for alpha" in events[-1].error
    assert fake_llm.requests_for("alpha") == []


async def test_compact_cuts_the_next_requests_messages_and_keeps_the_originals(fake_llm: FakeLLM) -> None:
    from tui.core.events import CompactEvent

    fake_llm.script("alpha", *[Reply(text=f"answer {i}") for i in range(4)], Reply(text="after"))
    fake_llm.script("gamma", Reply(text="they talked about four things"))
    e = engine(fake_llm)
    e.profile.models["gamma"].input_price = 0.1
    e.profile.models["gamma"].output_price = 0.2  # the cheapest priced model writes the summary
    for i in range(4):
        await drain(e.send(f"question {i}"))
    before = len(e.conversation)
    events = await drain(e.compact())
    event = next(ev for ev in events if isinstance(ev, CompactEvent))
    assert (event.model, event.replaced, event.kept) == ("gamma", 4, 4)
    await drain(e.send("and now"))
    messages = fake_llm.requests_for("alpha")[-1].body["messages"]
    assert len(messages) == 1 + 4 + 1  # the summary, the last two turns, the new question
    assert "they talked about four things" in json.dumps(messages) and "question 0" not in json.dumps(messages)
    assert len(e.conversation) > before  # nothing was removed from the tree
    assert e.conversation.nodes[e.conversation.path()[0].id].content.startswith("[Summary of 4 earlier")


async def test_a_handoff_to_a_model_with_a_smaller_window_warns_first(fake_llm: FakeLLM) -> None:
    from tui.core.events import HandoffEvent, NoticeEvent

    fake_llm.script("alpha", Reply(text="long " * 2000))
    fake_llm.script("beta", Reply(text="ok"))
    e = engine(fake_llm)
    e.profile.models["beta"].context_window = 1000
    await drain(e.send("write a lot"))
    events = await drain(e.handoff("beta", "summarise it"))
    warning = next(ev for ev in events if isinstance(ev, NoticeEvent))
    assert "beta's context window (1,000 tokens) is smaller than" in warning.message
    assert events.index(warning) < next(i for i, ev in enumerate(events) if isinstance(ev, HandoffEvent))


def test_what_the_screen_asks_each_frame_is_worked_out_once_per_change() -> None:
    """The footer asks `latest_round` for each pick key on every refresh: in a long session
    a walk of the whole branch each time held the keys up while an answer streamed."""
    from tui.core.conversation import Conversation
    from tui.core.events import MessageAdded, TextDelta
    from tui.core.types import Message, new_id
    from tui.ui.select import latest_round

    c = Conversation()
    parent = None
    for i in range(200):
        m = Message("user" if i % 2 == 0 else "assistant", f"m{i}", id=new_id(), parent=parent)
        c.apply(MessageAdded(m))
        parent = m.id
    walks = 0
    real = c._path

    def counted(leaf: str | None = None) -> list[Message]:
        nonlocal walks
        walks += 1
        return real(leaf)

    c._path = counted  # type: ignore[method-assign]
    for _ in range(9):
        assert latest_round(c) is None
        assert c.path()[-1].content == "m199"
    assert walks == 1  # not 18
    c.apply(TextDelta("alpha", "streaming text changes nothing shown from the tree"))
    c.path()
    assert walks == 1
    question = Message("user", "which?", id=new_id(), parent=parent)
    c.apply(MessageAdded(question))
    for lane in ("1", "2"):
        answer = Message("assistant", f"answer {lane}", "alpha", id=new_id(), parent=question.id, lane=lane)
        c.apply(MessageAdded(answer))
    found = latest_round(c)  # a change: worked out again, and right
    assert found is not None and found[0].id == question.id
    assert [m.content for m in found[1]] == ["answer 1", "answer 2"]
    assert c.path()[-1].id == question.id
