"""The engine end to end against a loopback server speaking both wire formats."""

from __future__ import annotations

import json
import time

import pytest
from fakellm import FakeLLM, Reply

from tui.core.audit import AuditLog
from tui.core.controller import audit_sink
from tui.core.engine import Engine, drain
from tui.core.events import (
    ConsensusEvent,
    FallbackEvent,
    HandoffEvent,
    ParallelEvent,
    RetryEvent,
    RouteEvent,
    RunCancelled,
    RunFailed,
    RunFinished,
    StageEvent,
    TextDelta,
    ToolCallEvent,
    TurnEvent,
    ValidationEvent,
)
from tui.core.profile import Constraints, ModelDef, Profile, ProviderDef, Stage
from tui.core.tools import ToolResult
from tui.core.types import ToolSpec


def make_profile(llm: FakeLLM, **kw) -> Profile:
    p = Profile(
        name="test",
        default_model="alpha",
        providers={
            "fo": ProviderDef(kind="openai", base_url=llm.openai_base, api_key_env="FO_KEY"),
            "fa": ProviderDef(kind="anthropic", base_url=llm.anthropic_base, api_key_env="FA_KEY"),
        },
        models={
            "alpha": ModelDef("fo/alpha", input_price=2.0, output_price=8.0),
            "beta": ModelDef("fa/beta", input_price=3.0, output_price=15.0),
            "gamma": ModelDef("fo/gamma"),
        },
    )
    for k, v in kw.items():
        setattr(p, k, v)
    return p


ENV = {"FO_KEY": "sk-openai-secret-1234", "FA_KEY": "sk-anthropic-secret-5678"}


def engine(llm: FakeLLM, profile: Profile | None = None, **kw) -> Engine:
    return Engine(profile or make_profile(llm), env=ENV, backoff_s=0.01, seed=7, **kw)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


async def test_single_turn_streams_and_costs(fake_llm):
    fake_llm.script("alpha", Reply(text="Hello there, friend.", usage=(1000, 500)))
    e = engine(fake_llm)
    events = await drain(e.send("hi"))
    deltas = of(events, TextDelta)
    assert len(deltas) > 1 and "".join(d.text for d in deltas) == "Hello there, friend."
    done = events[-1]
    assert isinstance(done, RunFinished) and done.model == "alpha"
    assert done.usage.input_tokens == 1000 and done.usage.output_tokens == 500
    assert done.cost_usd == pytest.approx((1000 * 2 + 500 * 8) / 1e6)
    assert [m.role for m in e.conversation.messages] == ["user", "assistant"]
    assert e.conversation.events[-1].to_record()["type"] == "turn"
    req = fake_llm.requests_for("alpha")[0]
    assert req.headers["authorization"] == "Bearer sk-openai-secret-1234"


async def test_keys_go_only_to_their_own_provider(fake_llm):
    e = engine(fake_llm)
    await drain(e.send("one"))
    e.set_model("beta")
    await drain(e.send("two"))
    a, b = fake_llm.requests_for("alpha")[0], fake_llm.requests_for("beta")[0]
    assert "sk-anthropic" not in json.dumps(a.headers) and b.headers["x-api-key"] == ENV["FA_KEY"]
    assert "authorization" not in b.headers


async def test_user_handoff_moves_later_turns(fake_llm):
    e = engine(fake_llm)
    await drain(e.send("research this"))
    events = await drain(e.handoff("beta", "write it up"))
    hand = of(events, HandoffEvent)[0]
    assert (hand.from_model, hand.to_model, hand.reason) == ("alpha", "beta", "user")
    assert hand.package["original_task"] == "research this"
    assert hand.package["instructions"] == "write it up" and "timestamp" in hand.package
    assert "expected_output_format" in hand.package["metadata"]
    await drain(e.send("and again"))
    assert len(fake_llm.requests_for("beta")) == 2
    assert len(fake_llm.requests_for("alpha")) == 1
    # the Anthropic-format target received the OpenAI model's answer as history
    body = fake_llm.requests_for("beta")[0].body
    assert "handed to you" in body["system"]
    assert any("[alpha]" in json.dumps(m) for m in body["messages"])


async def test_model_transfer_tool_hands_off_first_call_wins(fake_llm):
    p = make_profile(fake_llm)
    p.handoff.targets = ["beta", "gamma"]
    fake_llm.script("alpha", Reply(tool_calls=[("transfer_to_beta", {"instructions": "summarise"}),
                                               ("transfer_to_gamma", {"instructions": "no"})]))
    fake_llm.script("beta", Reply(text="Summary by beta."))
    e = engine(fake_llm, p)
    events = await drain(e.send("research X then summarise"))
    tools_offered = {t["function"]["name"] for t in fake_llm.requests_for("alpha")[0].body["tools"]}
    assert tools_offered == {"transfer_to_beta", "transfer_to_gamma", "consult_beta", "consult_gamma"}
    hand = of(events, HandoffEvent)
    assert len(hand) == 1 and hand[0].to_model == "beta" and hand[0].instructions == "summarise"
    assert events[-1] == RunFinished("Summary by beta.", "beta", events[-1].usage, events[-1].cost_usd)
    assert not fake_llm.requests_for("gamma")
    assert e.active_model == "beta"
    # the handoff call is flattened to text for the target, which has no such tool
    beta_body = json.dumps(fake_llm.requests_for("beta")[0].body["messages"])
    assert "transfer_to_beta" in beta_body and "tool_use" not in beta_body


async def test_chain_offers_only_later_models(fake_llm):
    fake_llm.script("alpha", Reply(tool_calls=[("transfer_to_beta", {"instructions": "go on"})]))
    fake_llm.script("beta", Reply(tool_calls=[("transfer_to_gamma", {"instructions": "finish"})]))
    fake_llm.script("gamma", Reply(text="done"))
    e = engine(fake_llm)
    events = await drain(e.chain("task", ["alpha", "beta", "gamma"]))
    assert [h.to_model for h in of(events, HandoffEvent)] == ["beta", "gamma"]
    assert [t["name"] for t in fake_llm.requests_for("beta")[0].body["tools"]] == ["transfer_to_gamma"]
    assert "tools" not in fake_llm.requests_for("gamma")[0].body
    assert events[-1].final_output == "done"


async def test_pipeline_passes_each_output_on(fake_llm):
    fake_llm.script("alpha", Reply(text="FACTS"))
    fake_llm.script("beta", Reply(text="INSIGHTS"))
    fake_llm.script("gamma", Reply(text='{"report": 1}'))
    stages = [Stage("alpha", "Research {input}"), Stage("beta", "Analyse: {input}"), Stage("gamma", validate="json")]
    events = await drain(engine(fake_llm).pipeline("topic Z", stages))
    assert [s.model for s in of(events, StageEvent)] == ["alpha", "beta", "gamma"]
    assert fake_llm.requests_for("alpha")[0].body["messages"][-1]["content"] == "Research topic Z"
    assert "FACTS" in json.dumps(fake_llm.requests_for("beta")[0].body)
    assert "INSIGHTS" in json.dumps(fake_llm.requests_for("gamma")[0].body)
    assert events[-1].final_output == '{"report": 1}'
    assert all(v.passed for v in of(events, ValidationEvent))


async def test_pipeline_criterion_failure_is_retried_then_reported(fake_llm):
    fake_llm.script("alpha", Reply(text="not json"), Reply(text="still not"))
    events = await drain(engine(fake_llm).pipeline("t", [Stage("alpha", validate="json")]))
    fails = [v for v in of(events, ValidationEvent) if not v.passed]
    assert len(fails) == 2 and "not valid JSON" in fails[0].reason
    assert isinstance(events[-1], RunFailed) and "stage 1" in events[-1].error


async def test_parallel_round_runs_concurrently_and_synthesises(fake_llm):
    for m in ("alpha", "beta", "gamma"):
        fake_llm.script(m, Reply(text=f"answer {m}", delay=0.6))
    fake_llm.script("beta", Reply(text="the synthesis"))
    e = engine(fake_llm)
    started = time.monotonic()
    events = await drain(e.parallel("q?", ["alpha", "beta", "gamma"], synthesizer="beta"))
    wall = time.monotonic() - started
    assert wall < 1.5  # three 0.6 s answers in sequence would take 1.8 s
    lanes = {d.lane for d in of(events, TextDelta)}
    assert {"alpha", "beta", "gamma"} <= lanes
    par = of(events, ParallelEvent)[0]
    assert par.answers == {"alpha": "answer alpha", "beta": "answer beta", "gamma": "answer gamma"}
    assert par.synthesis == "the synthesis"
    synth_req = json.dumps(fake_llm.requests_for("beta")[1].body)
    assert "answer alpha" in synth_req and "answer gamma" in synth_req
    assert events[-1].final_output == "the synthesis"
    # later turns see the outcome, not every lane
    await drain(e.send("next"))
    last = json.dumps(fake_llm.requests_for("alpha")[-1].body["messages"])
    assert "the synthesis" in last and "answer gamma" not in last


async def test_consensus_anonymises_and_ranks(fake_llm):
    for m in ("alpha", "beta", "gamma"):
        fake_llm.script(m, Reply(text=f"I am {m}"))
    fake_llm.script("judge", Reply(text="Thinking...\nRANKING: C > A > B\nC was clearest."))
    p = make_profile(fake_llm)
    p.models["judge"] = ModelDef("fo/judge")
    events = await drain(engine(fake_llm, p).consensus("q", ["alpha", "beta", "gamma"], "judge"))
    c = of(events, ConsensusEvent)[0]
    judge_body = json.dumps(fake_llm.requests_for("judge")[0].body)
    for m in ("alpha", "beta", "gamma"):
        assert f"I am {m}" in judge_body
        assert f"from {m}" not in judge_body  # anonymised
    assert c.ranking == (c.labels["C"], c.labels["A"], c.labels["B"])
    assert c.winner == c.labels["C"]
    assert events[-1].final_output == f"I am {c.winner}"


@pytest.mark.parametrize(
    "text, labels, expected",
    [
        ("RANKING: B > A > C", ["A", "B", "C"], ["B", "A", "C"]),
        ("ranking - answer c, answer a", ["A", "B", "C"], ["C", "A", "B"]),
        ('{"ranking": ["B", "C", "A"]}', ["A", "B", "C"], ["B", "C", "A"]),
        ("Answer B is best; Answer A next.", ["A", "B"], ["B", "A"]),
        ("no idea", ["A", "B"], ["A", "B"]),
    ],
)
def test_parse_ranking_is_robust(text, labels, expected):
    from tui.core.engine.rounds import parse_ranking

    assert parse_ranking(text, labels) == expected


async def test_auto_routing_records_reason_and_honours_constraints(fake_llm):
    p = make_profile(fake_llm)
    p.routing.mode = "auto"
    p.routing.rules = {"code_generation": "beta", "creative_writing": "alpha"}
    e = engine(fake_llm, p)
    events = await drain(e.send("Write a python function that parses dates"))
    route = of(events, RouteEvent)[0]
    assert route.task_type == "code_generation" and route.model == "beta"
    assert "python" in route.reason and "rule" in route.reason
    assert fake_llm.requests_for("beta")
    # beta is estimated at (1500*3 + 500*15)/1e6 = $0.012; a $0.005 cap rules it out
    p.routing.constraints = Constraints(max_cost_usd=0.005)
    events = await drain(e.send("Fix this python bug"))
    route = of(events, RouteEvent)[0]
    assert route.model != "beta" and "skipped beta" in route.reason


async def test_429_is_retried_then_succeeds(fake_llm):
    fake_llm.script("alpha", Reply(status=429, error="slow down", retry_after=0.05), Reply(text="ok now"))
    events = await drain(engine(fake_llm).send("hi"))
    retry = of(events, RetryEvent)[0]
    assert "slow down" in retry.error and retry.delay_s == pytest.approx(0.05)
    assert events[-1].final_output == "ok now"


async def test_500_falls_back_in_order(fake_llm):
    p = make_profile(fake_llm, fallbacks={"alpha": ["gamma", "beta"]})
    fake_llm.script("alpha", *[Reply(status=500, error="boom")] * 3)
    fake_llm.script("gamma", Reply(status=401, error="bad key"))
    fake_llm.script("beta", Reply(text="beta saves the day"))
    events = await drain(engine(fake_llm, p).send("hi"))
    falls = of(events, FallbackEvent)
    assert [(f.from_model, f.to_model) for f in falls] == [("alpha", "gamma"), ("gamma", "beta")]
    assert "boom" in falls[0].error and "401" in falls[1].error
    assert len(fake_llm.requests_for("gamma")) == 1  # a 401 is not retried
    assert events[-1].model == "beta"


async def test_stream_cut_keeps_partial_and_marks_it(fake_llm):
    p = make_profile(fake_llm, fallbacks={"beta": ["alpha"]})
    fake_llm.script("beta", *[Reply(text="partial answer here", cut_after=2)] * 3)
    fake_llm.script("alpha", Reply(text="complete"))
    e = engine(fake_llm, p)
    e.set_model("beta")
    events = await drain(e.send("hi"))
    partial = [t for t in of(events, TurnEvent) if t.partial]
    assert partial and partial[0].text == "partial "  # two chunks of four characters
    msgs = e.conversation.messages
    assert msgs[-1].content == "complete" and not msgs[-1].partial
    # the cut attempts stay in the tree, marked, as alternatives of the answer that replaced them
    cut = [m for m in e.conversation.siblings(msgs[-1].id) if m.partial]
    assert cut and cut[0].content == "partial " and cut[0].model == "beta" and cut[0].parent == msgs[0].id
    assert events[-1].model == "alpha"
    # the cut attempt is not sent on as history
    await drain(e.send("next"))
    assert "partial \"" not in json.dumps(fake_llm.requests_for("alpha")[-1].body["messages"])


async def test_anthropic_error_event_after_200_falls_back(fake_llm):
    p = make_profile(fake_llm, fallbacks={"beta": ["alpha"]}, default_model="beta")
    fake_llm.script("beta", *[Reply(text="hm", error_event=True, error="Overloaded")] * 3)
    events = await drain(engine(fake_llm, p).send("hi"))
    assert "Overloaded" in of(events, FallbackEvent)[0].error
    assert events[-1].model == "alpha"


async def test_every_model_failing_ends_with_one_line(fake_llm):
    fake_llm.script("alpha", Reply(status=400, error="bad request: no"))
    events = await drain(engine(fake_llm).send("hi"))
    assert isinstance(events[-1], RunFailed) and "\n" not in events[-1].error
    assert "bad request: no" in events[-1].error


async def test_missing_key_is_a_clear_failure(fake_llm):
    e = Engine(make_profile(fake_llm), env={})
    events = await drain(e.send("hi"))
    assert isinstance(events[-1], RunFailed) and "FO_KEY" in events[-1].error
    assert not fake_llm.requests


async def test_cancel_closes_stream_and_keeps_partial(fake_llm):
    fake_llm.script("alpha", Reply(text="x" * 400, chunk_delay=0.05))
    e = engine(fake_llm)
    run = e.send("go")
    seen: list[str] = []
    async for ev in run:
        if isinstance(ev, TextDelta):
            seen.append(ev.text)
            if len(seen) == 3:
                break
    await run.cancel()
    after = [ev async for ev in run]  # what was queued before the cancel, then its record
    assert isinstance(after[-1], RunCancelled) and after[-1].partials
    seen += [ev.text for ev in after if isinstance(ev, TextDelta)]
    last = e.conversation.messages[-1]
    assert last.partial and last.content == "".join(seen) and last.model == "alpha"
    assert e.conversation.events[-1].to_record()["finish_reason"] == "cancelled"
    assert [ev async for ev in run] == []  # nothing arrives after RunCancelled
    assert len("".join(seen)) < 400


class DictTools:
    def __init__(self):
        self.calls = []

    def specs(self):
        return [ToolSpec("files__add", "[files] add", {"type": "object", "properties": {"a": {"type": "integer"}}})]

    def owner(self, name):
        return ("files", "add") if name == "files__add" else None

    async def call(self, name, arguments, on_progress=None):
        self.calls.append(arguments)
        return ToolResult("files", "add", str(arguments["a"] + arguments["b"]))

    def hosted_slugs(self):
        return []

    def problems(self):
        return []


@pytest.mark.parametrize("model", ["alpha", "beta"])
async def test_tool_loop_runs_until_answer(fake_llm, model):
    fake_llm.script(model, Reply(tool_calls=[("files__add", {"a": 2, "b": 3})]))
    tools = DictTools()
    e = engine(fake_llm, tools=tools)
    e.set_model(model)
    events = await drain(e.send("add 2 and 3"))
    call = of(events, ToolCallEvent)[0]
    assert (call.server, call.tool, call.arguments, call.result) == ("files", "add", {"a": 2, "b": 3}, "5")
    assert events[-1].final_output == "tool said: 5"  # the fake echoes the tool result it was sent


async def test_audit_log_has_every_event_and_no_key(fake_llm, tmp_path):
    p = make_profile(fake_llm, fallbacks={"alpha": ["beta"]})
    fake_llm.script("alpha", Reply(status=503, error=f"leak {ENV['FO_KEY']}"))
    log = AuditLog(tmp_path / "audit.jsonl", ENV.values())
    e = engine(fake_llm, p, sinks=[audit_sink(log)], max_retries=0)
    await drain(e.send("hi"))
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    types = [json.loads(line)["type"] for line in lines]
    assert types == ["fallback", "turn"]
    assert "sk-openai-secret" not in "".join(lines)


async def test_an_unreadable_judge_is_said_not_hidden(fake_llm):
    from tui.core.events import NoticeEvent

    fake_llm.script("gamma", Reply(text="They are all lovely."))
    events = await drain(engine(fake_llm).consensus("q", ["alpha", "beta"], "gamma"))
    notice = of(events, NoticeEvent)
    assert len(notice) == 1 and "no ranking" in notice[0].message
    assert isinstance(events[-1], RunFinished)
