"""Task classification and model choice: a table of prompts, and constraints that cannot be met."""

from __future__ import annotations

import pytest

from tui.core.profile import Constraints, ModelDef, Profile, Routing
from tui.core.routing import classify, select_model

# From Baton's own examples and the workflows of ../shared/reference/agent-handoffs.md.
PROMPTS = [
    # code words win over "write"
    ("Write a parser for INI files", "code_generation"),
    ("Write a function that reverses a linked list", "code_generation"),
    ("Write a class for a bank account", "code_generation"),
    ("Write a script that renames every photo by date", "code_generation"),
    ("Write a regex that matches email addresses", "code_generation"),
    ("Write a SQL query for the ten biggest customers", "code_generation"),
    ("Write a program that prints the primes below 100", "code_generation"),
    ("Fix the bug in this loop", "code_generation"),
    ("Why does this fail to compile?", "code_generation"),
    ("Refactor this python class", "code_generation"),
    # still creative writing
    ("Write a poem about the sea", "creative_writing"),
    ("Write a short story about a dragon who hoards books", "creative_writing"),
    ("Write a haiku about autumn", "creative_writing"),
    # the reference's workflows
    ("Research latest AI developments, then handoff to Claude to write a technical summary", "research"),
    ("Research the latest information about solid-state batteries", "research"),
    ("Analyze this research and identify key insights: batteries are getting denser", "data_analysis"),
    ("Parse and structure this data: a=1, b=2, c=3", "data_analysis"),
    ("Analyze patterns in: sales rose in May and fell in June", "data_analysis"),
    ("Generate insights from: churn is highest in month two", "data_analysis"),
    ("Technical analysis: a new cache for the login service", "data_analysis"),
    ("Risk assessment: moving the database to another region", "data_analysis"),
    ("Business implications: a competitor halves its prices", "research"),
    ("Evaluate these responses and determine the best answer: 4, four, 5", "research"),
    ("What is the capital of France?", "quick_answer"),
]


@pytest.mark.parametrize(("prompt", "task_type"), PROMPTS)
def test_classifies_prompts(prompt: str, task_type: str) -> None:
    got, reason = classify(prompt, Profile())
    assert got == task_type, reason
    assert reason


def test_the_reason_names_the_code_word() -> None:
    task_type, reason = classify("Write a parser", Profile())
    assert task_type == "code_generation"
    assert "'parser'" in reason


def test_the_profiles_own_task_words_still_weigh_double() -> None:
    profile = Profile(routing=Routing(tasks={"summarization": ["summarize"]}))
    assert classify("summarize this python code", profile)[0] == "summarization"


def _profile() -> Profile:
    return Profile(
        default_model="cheap",
        models={
            "cheap": ModelDef("openai/gpt-4o-mini", input_price=0.15, output_price=0.6, strengths=["quick_answer"]),
            "dear": ModelDef("anthropic/claude-opus-4-1", input_price=15.0, output_price=75.0,
                             strengths=["creative_writing"]),
        },
        routing=Routing(mode="auto", rules={"creative_writing": "dear"}),
    )


def test_a_choice_within_the_constraints_is_satisfied() -> None:
    choice = select_model("write a poem", _profile(), {}, {"max_cost": 1.0})
    assert (choice.model, choice.satisfied) == ("dear", True)
    cheaper = select_model("write a poem", _profile(), {}, {"max_cost": 0.01})
    assert (cheaper.model, cheaper.satisfied) == ("cheap", True)


def test_no_model_meets_the_constraints_says_so() -> None:
    choice = select_model("write a poem", _profile(), {}, Constraints(max_cost_usd=0.0000001))
    assert choice.satisfied is False
    assert "no model meets the constraints" in choice.reason
    assert "dear" in choice.reason and "cheap" in choice.reason
