"""What an MCP tool result becomes for a model: media apart from text, resources as text, caps, progress."""

from __future__ import annotations

import base64
import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tui.core.mcp.client import McpTools
from tui.core.mcp.results import size_label
from tui.core.profile import McpServerDef
from tui.core.tools import Media

MEDIA = str(Path(__file__).parent / "mcp_servers" / "media_server.py")


def load_media_module():
    spec = importlib.util.spec_from_file_location("media_server", MEDIA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def media_box(tmp_path: Path, **limits) -> McpTools:
    box = McpTools({}, {}, log_dir=tmp_path)
    assert await box.add_in_process("m", load_media_module().build(), definition=McpServerDef(**limits)) is None
    return box


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[McpTools]:
    tools = await media_box(tmp_path)
    try:
        yield tools
    finally:
        await tools.aclose()


async def test_an_image_is_media_not_base64_text(box: McpTools) -> None:
    result = await box.call("m__picture", {"kb": 270})
    assert not result.is_error
    assert result.text == "a chart\n[image/png, 270 KB]"
    (image,) = result.media
    assert isinstance(image, Media)
    assert (image.kind, image.mime_type, image.size) == ("image", "image/png", 270 * 1024)
    assert base64.b64decode(image.data) == load_media_module().png_bytes(270 * 1024)


async def test_audio_is_media_too(box: McpTools) -> None:
    result = await box.call("m__sound", {})
    assert result.text == "[audio/wav, 2 KB]"
    assert [(m.kind, m.mime_type, m.size) for m in result.media] == [("audio", "audio/wav", 2048)]


async def test_media_that_is_not_base64_is_left_out_with_a_note(box: McpTools) -> None:
    result = await box.call("m__broken_image", {})
    assert result.media == ()
    assert result.text == "[image/png: not valid base64, left out]"


async def test_resources_become_text_the_model_can_use(box: McpTools) -> None:
    result = await box.call("m__documents", {})
    assert result.media == ()
    assert result.text.splitlines() == [
        "# Notes",
        "[resource file:///report.pdf application/pdf]",
        "[resource file:///big.csv text/csv big.csv]",
    ]


async def test_structured_content_without_text_is_compact_json(box: McpTools) -> None:
    assert (await box.call("m__weather", {})).text == '{"city":"Oslo","temp_c":-3}'


async def test_structured_content_beside_media_is_not_repeated_as_text(box: McpTools) -> None:
    result = await box.call("m__snapshot", {})
    assert result.text == "[image/png, 2 KB]"
    assert [m.size for m in result.media] == [2048]


async def test_long_text_is_cut_with_a_note(tmp_path: Path) -> None:
    tools = await media_box(tmp_path, max_result_chars=1000)
    try:
        short = await tools.call("m__long_text", {"chars": 1000})
        long = await tools.call("m__long_text", {"chars": 250_000})
    finally:
        await tools.aclose()
    assert short.text == "x" * 1000
    assert long.text == "x" * 1000 + "\n[cut: 249000 more characters]"


async def test_the_default_text_cap_applies(box: McpTools) -> None:
    result = await box.call("m__long_text", {"chars": 250_000})
    assert result.text.endswith("\n[cut: 150000 more characters]")


async def test_media_over_the_cap_are_left_out_with_a_note(tmp_path: Path) -> None:
    tools = await media_box(tmp_path, max_media_bytes=7000)
    try:
        result = await tools.call("m__pictures", {"count": 3, "kb": 3})
    finally:
        await tools.aclose()
    assert [m.size for m in result.media] == [3072, 3072]
    lines = result.text.splitlines()
    assert lines[:2] == ["[image/png, 3 KB]", "[image/png, 3 KB]"]
    assert lines[2] == "[image/png, 3 KB: left out, over the 6 KB limit for the media of one tool result]"


async def test_progress_reaches_the_caller(box: McpTools) -> None:
    seen: list[tuple[float, float | None, str | None]] = []
    result = await box.call("m__work", {"steps": 3}, on_progress=lambda *p: seen.append(p))
    assert result.text == "done 3 steps"
    assert seen == [(1, 3, "step 1 of 3"), (2, 3, "step 2 of 3"), (3, 3, "step 3 of 3")]


async def test_a_failing_progress_callback_does_not_fail_the_call(box: McpTools) -> None:
    def broken(progress: float, total: float | None, message: str | None) -> None:
        raise RuntimeError("display gone")

    result = await box.call("m__work", {"steps": 2}, on_progress=broken)
    assert (result.text, result.is_error) == ("done 2 steps", False)


async def test_progress_over_stdio(tmp_path: Path) -> None:
    tools = McpTools({"s": McpServerDef(command=sys.executable, args=[MEDIA])}, {}, log_dir=tmp_path)
    try:
        assert await tools.start() == []
        seen: list[tuple[float, float | None, str | None]] = []
        result = await tools.call("s__work", {"steps": 2}, on_progress=lambda *p: seen.append(p))
        image = await tools.call("s__picture", {"kb": 5})
    finally:
        await tools.aclose()
    assert result.text == "done 2 steps"
    assert [p[:2] for p in seen] == [(1, 2), (2, 2)]
    assert image.media[0].size == 5 * 1024 and "[image/png, 5 KB]" in image.text


def test_size_labels() -> None:
    assert [size_label(n) for n in (0, 1023, 1024, 270 * 1024, 6_400_000)] == [
        "0 bytes",
        "1023 bytes",
        "1 KB",
        "270 KB",
        "6.1 MB",
    ]
