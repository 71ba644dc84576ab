"""The routing panel: who answers, how the next model is chosen, and why.

The person edits the active model, the mode and a rule here; the panel only reports
those choices as messages and the app passes them to the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Label, Select, Static, Switch

from .text import one_line


@dataclass(frozen=True)
class RoutingState:
    """What the panel shows; built by the app from the engine and its profile."""

    models: tuple[str, ...]
    active_model: str | None
    mode: str
    rules: Mapping[str, str]
    task_types: tuple[str, ...]
    constraints: str
    last_route: Mapping[str, Any] | None = None
    # Task type ("" overall) -> who leads your leaderboard there (tui.core.votes.Leader).
    leaders: Mapping[str, Any] | None = None


class RoutingPanel(VerticalScroll):
    """Active model, mode, route table, last decision, constraints, MCP servers."""

    @dataclass
    class ModelPicked(Message):
        model: str

    @dataclass
    class ModeToggled(Message):
        mode: str

    @dataclass
    class RuleEdited(Message):
        task_type: str
        model: str

    def __init__(self, state: Callable[[], RoutingState], *, id: str | None = None) -> None:
        """`state` is asked when the panel is composed, so a panel mounted late is current."""
        super().__init__(id=id, classes="-no-mcp")
        self.border_title = "Routing"
        self._source = state

    def compose(self) -> ComposeResult:
        state = self._state = self._source()
        choices = [(Content(name), name) for name in state.models]
        with Horizontal(classes="field"):
            yield Label("Model", classes="field-label")
            yield Select[str](choices, prompt="none", compact=True, id="model-select",
                              value=state.active_model if state.active_model in state.models else Select.NULL,
                              tooltip="The model that answers in manual mode")
        with Horizontal(classes="field"):
            yield Label("Auto", classes="field-label")
            yield Switch(state.mode == "auto", animate=False, id="auto-switch",
                         tooltip="Auto: routing rules pick a model per message")
        yield Static(Content("Rules"), classes="heading")
        yield Static(self._rules(state), id="rules")
        with Horizontal(classes="field"):
            yield Select[str]([(Content(t), t) for t in state.task_types], prompt="task", compact=True,
                              id="rule-task", tooltip="A task type to route")
            yield Select[str](choices, prompt="model", compact=True, id="rule-model",
                              tooltip="The model for that task")
        yield Static(Content("Last decision"), classes="heading")
        yield Static(self._last_route(state), id="last-route")
        yield Static(Content("Constraints"), classes="heading")
        yield Static(self._constraints(state), id="constraints")
        yield Static(Content("MCP servers"), classes="heading mcp")
        yield Static(id="mcp", classes="mcp")
        yield Static(Content("Your leader"), classes="heading")
        yield Static(self._leader(state, None), id="leader")

    @staticmethod
    def _rules(state: RoutingState) -> Content:
        if not state.rules:
            return Content.styled("none", "dim")
        return Content("\n").join(Content(one_line(f"{task} → {model}", 60)) for task, model in state.rules.items())

    @staticmethod
    def _last_route(state: RoutingState) -> Content:
        route = state.last_route
        if not route:
            return Content.styled("none yet", "dim")
        return Content(one_line(f"{route.get('task_type')} → {route.get('model')}: {route.get('reason')}", 200))

    @staticmethod
    def _leader(state: RoutingState, task: object) -> Content:
        """For the task in the rule editor, else the last route's, else overall: the model
        your votes, picks and judges rank first, and how often it won."""
        if not isinstance(task, str):
            task = str((state.last_route or {}).get("task_type") or "")
        leaders = state.leaders or {}
        leader = leaders.get(task)
        where = task or "overall"
        if leader is None and task:
            leader, where = leaders.get(""), f"overall (none yet for {task})"
        if leader is None:
            return Content.styled("no votes yet (/compare, /pick, consensus)", "dim")
        rate = f"{leader.win_rate:.0%}"
        return Content(one_line(f"{where}: {leader.model} · won {rate} of {leader.games} games", 200))

    @staticmethod
    def _constraints(state: RoutingState) -> Content:
        return Content(state.constraints) if state.constraints else Content.styled("none", "dim")

    def show(self, state: RoutingState) -> None:
        """Bring every control up to date without reporting the change back."""
        previous, self._state = self._state, state
        with self.prevent(Select.Changed, Switch.Changed):
            choices = [(Content(name), name) for name in state.models]
            model_select = self.query_one("#model-select", Select)
            if state.models != previous.models:
                model_select.set_options(choices)
                self.query_one("#rule-model", Select).set_options(choices)
            if state.active_model in state.models and model_select.value != state.active_model:
                model_select.value = state.active_model
            self.query_one("#auto-switch", Switch).value = state.mode == "auto"
            task_select = self.query_one("#rule-task", Select)
            if state.task_types != previous.task_types:
                current_task = task_select.value
                task_select.set_options((Content(task), task) for task in state.task_types)
                if current_task in state.task_types:
                    task_select.value = current_task
            self._show_rule_model(task_select.value)
        self.query_one("#rules", Static).update(self._rules(state))
        self.query_one("#last-route", Static).update(self._last_route(state))
        self._show_leader()
        self.query_one("#constraints", Static).update(self._constraints(state))

    def show_servers(self, statuses: Mapping[str, Any]) -> None:
        """MCP servers and their tools, from McpTools.status."""
        self.set_class(not statuses, "-no-mcp")
        lines: list[Content] = []
        for name, status in statuses.items():
            state = getattr(status, "state", "?")
            tools: Iterable[str] = getattr(status, "tools", ()) or ()
            error = getattr(status, "error", None)
            line = f"{name} ({getattr(status, 'transport', '?')}): {state}"
            if error:
                line += f" · {error}"
            lines.append(Content(one_line(line, 120)))
            tool_names = ", ".join(str(tool) for tool in tools)
            if tool_names:
                lines.append(Content.styled(one_line("  " + tool_names, 200), "dim"))
        self.query_one("#mcp", Static).update(Content("\n").join(lines))

    def _show_leader(self) -> None:
        task = self.query_one("#rule-task", Select).value
        self.query_one("#leader", Static).update(self._leader(self._state, task))

    def _show_rule_model(self, task: object) -> None:
        rule_model = self.query_one("#rule-model", Select)
        model = self._state.rules.get(task) if isinstance(task, str) else None
        if model is not None and model in self._state.models:
            if rule_model.value != model:
                rule_model.value = model
        elif rule_model.value is not Select.NULL:
            rule_model.clear()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = event.value
        # A Select also reports the value it was given when mounted: only a change counts.
        if event.select.id == "model-select" and isinstance(value, str) and value != self._state.active_model:
            self.post_message(self.ModelPicked(value))
        elif event.select.id == "rule-task":
            with self.prevent(Select.Changed):
                self._show_rule_model(value)
            self._show_leader()
        elif event.select.id == "rule-model" and isinstance(value, str):
            task = self.query_one("#rule-task", Select).value
            if isinstance(task, str) and self._state.rules.get(task) != value:
                self.post_message(self.RuleEdited(task, value))

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        if event.value != (self._state.mode == "auto"):
            self.post_message(self.ModeToggled("auto" if event.value else "manual"))
