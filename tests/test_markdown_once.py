"""An answer's Markdown is parsed by one markdown-it parser, kept, and renders exactly as
Rich's own `Markdown` (which builds a parser for every renderable)."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown

from tui.ui.answer import _markdown

PIECES = ["# Title\n", "## Sub\n", "some *text* ", "**bold** ", "`code` ", "~~strike~~ ", "\n\n", "- item\n",
          "1. first\n", "> quoted\n", "```python\nx = 1\n```\n", "| a | b |\n|---|---|\n| 1 | 2 |\n",
          "[link](http://x.test) ", "\x1b[31mred\x1b[0m ", "plain words ", "---\n"]


def rendered(markdown: Markdown, width: int = 50) -> str:
    console = Console(file=io.StringIO(), width=width, color_system="truecolor", force_terminal=True)
    console.print(markdown)
    return re.sub(r"id=\d+", "id=", console.file.getvalue())  # type: ignore[attr-defined]  # (a link's id is random)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.integers(20, 90))
def test_renders_as_riches_own_markdown(pieces: list[str], width: int) -> None:
    source = "".join(pieces)
    ours = _markdown(source)
    assert isinstance(ours, Markdown)
    # Rich's, from the same neutralised text (escape sequences never reach the screen)
    assert rendered(ours, width) == rendered(Markdown(ours.markup), width)
    assert "\x1b[31m" not in ours.markup


def test_one_parser_for_every_renderable(monkeypatch) -> None:
    _markdown("warm")
    made = []
    real = MarkdownIt.__init__

    def counting(self, *args, **kwargs) -> None:
        made.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(MarkdownIt, "__init__", counting)
    for i in range(20):
        assert _markdown(f"answer {i} *x*").markup == f"answer {i} *x*"
    assert made == []
