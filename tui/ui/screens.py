"""Modal screens: tool approval, the details of a timeline event, help, trust for a file."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

from tui.core.tools import Approval

from .text import one_line, visible


class ApprovalScreen(ModalScreen[Approval]):
    """Asks before a tool of a server with `approve = true` runs. It takes focus on Deny;
    approving needs a deliberate choice (Tab to a button then Enter, a click, or ctrl+o /
    ctrl+s): letters typed into it, as a message being written when it popped up, never
    approve anything."""

    BINDINGS = [
        Binding("ctrl+o", "answer('once')", "Allow once", id="approve_once"),
        Binding("ctrl+s", "answer('session')", "Allow for session", id="approve_session"),
        Binding("escape", "answer('deny')", "Deny", id="approve_deny"),
    ]

    def __init__(self, server: str, tool: str, arguments: dict[str, Any]) -> None:
        super().__init__()
        self.server = server
        self.tool = tool
        self.arguments = arguments

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Content(one_line(f"Run tool {self.tool} on MCP server {self.server}?", 200)),
                         classes="title")
            with VerticalScroll(classes="body"):
                yield Static(Content(visible(json.dumps(self.arguments, indent=2, ensure_ascii=False, default=str))))
            with Horizontal(classes="buttons"):
                yield Button("Deny", id="deny", variant="error")
                yield Button("Allow once", id="once", variant="primary")
                yield Button("Allow for session", id="session")
            yield Static(Content("enter on Deny · tab then enter, or ctrl+o / ctrl+s, to allow"), classes="hint")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)  # type: ignore[arg-type]

    def action_answer(self, answer: Approval) -> None:
        self.dismiss(answer)


def labelled(value: Any, indent: str = "") -> list[str]:
    """A record as labelled fields, one per line, nested ones indented; figures whole."""
    lines: list[str] = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        label = f"{indent}{key}" if isinstance(value, dict) else f"{indent}-"
        if isinstance(item, (dict, list, tuple)) and item:
            lines.append(f"{label}:")
            lines.extend(labelled(item, indent + "  "))
        elif key == "time" and isinstance(item, (int, float)):
            import datetime

            lines.append(f"{label}: {datetime.datetime.fromtimestamp(item):%Y-%m-%d %H:%M:%S}")
        else:
            shown = "—" if item is None or item == {} or item == [] else item
            lines.append(f"{label}: {shown}")
    return lines


class DetailsScreen(ModalScreen[None]):
    """Everything recorded for one timeline event; for a handoff, the whole package."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close", id="close_details")]

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        kind = str(self.record.get("type", "event"))
        body = "\n".join(labelled(self.record))
        with Vertical(id="dialog"):
            yield Static(Content(one_line(f"{kind} details", 80)), classes="title")
            with VerticalScroll(classes="body"):
                yield Static(Content(visible(body)))
            yield Static(Content("escape closes"), classes="hint")


class HelpScreen(ModalScreen[None]):
    """Commands and keys."""

    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close", id="close_help")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Markdown(self.text)


class TrustScreen(ModalScreen[bool]):
    """Asks whether a file from elsewhere may run its commands and send its keys.

    Enter and Escape mean "don't trust": trusting takes Tab to the other button then
    Enter, a click, or ctrl+t, so keys typed ahead into the app never trust a file.
    """

    DEFAULT_CSS = """
    TrustScreen {
        align: center middle;
    }
    #trust-dialog {
        width: 80%;
        max-width: 100;
        height: auto;
        max-height: 90%;
        border: thick $error;
        background: $surface;
        padding: 0 1;
    }
    #trust-dialog .title {
        text-style: bold;
    }
    #trust-dialog .exposure {
        height: auto;
        max-height: 100%;
        margin: 1 0;
    }
    #trust-dialog .choices {
        dock: bottom;
        height: auto;
    }
    #trust-dialog .buttons {
        height: auto;
        margin-top: 1;
    }
    #trust-dialog Button {
        margin-right: 1;
    }
    #trust-dialog .hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape,enter", "answer(False)", "Don't trust", id="trust_decline"),
        Binding("ctrl+t", "answer(True)", "Trust this file", id="trust_accept"),
    ]
    AUTO_FOCUS = "#decline"

    def __init__(self, path: str, lines: list[str]) -> None:
        super().__init__()
        self.path = path
        self.lines = list(lines)

    def compose(self) -> ComposeResult:
        with Vertical(id="trust-dialog"):
            yield Static(Content(one_line(f"Trust {self.path}?", 200)), classes="title")
            yield Static(Content("This file would:"))
            with Vertical(classes="choices"):  # docked: the buttons stay in view however long the list
                yield Static(
                    Content("Not trusted, the conversation still opens; these servers and providers stay off."),
                    classes="hint",
                )
                with Horizontal(classes="buttons"):
                    yield Button("Don't trust", id="decline", variant="primary")
                    yield Button("Trust this file", id="accept", variant="error")
                yield Static(Content("enter or escape: don't trust · tab then enter, or ctrl+t: trust"), classes="hint")
            with VerticalScroll(classes="exposure"):
                yield Static(Content(visible("\n".join(self.lines))), id="exposure")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "accept")

    def action_answer(self, trusted: bool) -> None:
        self.dismiss(trusted)


class HandoffScreen(ModalScreen["dict[str, Any] | None"]):
    """The handoff package, for the person to review and edit before it is sent.
    Dismisses with the edited package, or None (Escape, Cancel)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_handoff")]

    def __init__(self, package: dict[str, Any]) -> None:
        super().__init__()
        self.package = package

    def compose(self) -> ComposeResult:
        from textual.widgets import Input, Select

        meta = self.package.get("metadata") or {}
        context = self.package.get("context") or {}
        mode = str(context.get("mode", "full")) if isinstance(context, dict) else "full"
        with Vertical(id="dialog"):
            yield Static(Content(one_line(f"Hand off to {self.package.get('target_model')}", 100)), classes="title")
            with VerticalScroll(classes="body"):
                yield Static(Content("Task"))
                yield Input(str(self.package.get("original_task", "")), id="task")
                yield Static(Content("Instructions"))
                yield Input(str(self.package.get("instructions", "")), id="instructions")
                yield Static(Content("Context"))
                yield Select([(m, m) for m in ("full", "summary", "recent")], value=mode, allow_blank=False,
                             id="context")
                yield Static(Content("Expected output"))
                yield Input(str(meta.get("expected_output_format", "")), id="expected")
                yield Static(Content("Validation criteria (separated by ;)"))
                yield Input("; ".join(map(str, meta.get("validation_criteria", []))), id="criteria")
            with Horizontal(classes="buttons"):
                yield Button("Send", id="send", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            self.dismiss(self.edited())
        else:
            self.dismiss(None)

    def edited(self) -> dict[str, Any]:
        from textual.widgets import Input, Select

        def value(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value.strip()

        package = dict(self.package)
        package["original_task"] = value("task")
        package["instructions"] = value("instructions")
        context = package.get("context")
        mode = self.query_one("#context", Select).value
        package["context"] = {**(context if isinstance(context, dict) else {}), "mode": mode}
        meta = dict(package.get("metadata") or {})
        meta["expected_output_format"] = value("expected")
        meta["validation_criteria"] = [c.strip() for c in value("criteria").split(";") if c.strip()]
        package["metadata"] = meta
        return package

    def action_cancel(self) -> None:
        self.dismiss(None)
