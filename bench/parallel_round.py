"""Wall time of a parallel round: three models that each take one second to answer.

Run: .venv/bin/python bench/parallel_round.py [--runs N]
The round should take about as long as its slowest model, not the sum (3 s).
Everything runs on 127.0.0.1 against the tests' loopback server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakellm import FakeLLM, Reply

from tui.core.engine import Engine, drain
from tui.core.events import ParallelEvent
from tui.core.profile import ModelDef, Profile, ProviderDef


async def one_round(llm: FakeLLM, synth: bool) -> float:
    profile = Profile(
        providers={
            "fo": ProviderDef(kind="openai", base_url=llm.openai_base),
            "fa": ProviderDef(kind="anthropic", base_url=llm.anthropic_base),
        },
        models={"a": ModelDef("fo/a"), "b": ModelDef("fa/b"), "c": ModelDef("fo/c")},
    )
    for m in ("a", "b", "c"):
        llm.script(m, Reply(text=f"{m} answers after a second of thought.", delay=1.0))
    if synth:  # the synthesiser takes its second as well
        llm.script("a", Reply(text="a synthesis after a second of thought.", delay=1.0))
    engine = Engine(profile, env={})
    started = time.perf_counter()
    events = await drain(engine.parallel("question", ["a", "b", "c"], synthesizer="a" if synth else None))
    wall = time.perf_counter() - started
    await engine.aclose()
    assert any(isinstance(e, ParallelEvent) and len(e.answers) == 3 for e in events)
    return wall


async def main(runs: int) -> None:
    with FakeLLM() as llm:
        for synth in (False, True):
            walls = [await one_round(llm, synth) for _ in range(runs)]
            label = "3 models x 1 s" + (" + synthesis" if synth else "")
            print(f"{label:28} median {statistics.median(walls):.3f} s  "
                  f"min {min(walls):.3f}  max {max(walls):.3f}  ({runs} runs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
