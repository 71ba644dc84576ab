"""An MCP tool result as what a model is sent: text it can use, and media kept apart.

Images and audio never become base64 text: they go into `ToolResult.media` and the text
gets a short placeholder for each. Resources become their text (or a line naming a blob),
structured content becomes compact JSON when the tool gave neither text nor media. Both the text and the
media of one result are capped, with a note saying what was cut.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from ..tools import Media


def size_label(size: int) -> str:
    """Bytes as a short label: 512 bytes, 270 KB, 6.1 MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size // 1024} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _media(block: Any) -> Media | str:
    """A Media for an image or audio block, or a line saying why it was dropped."""
    kind: Literal["image", "audio"] = "image" if block.type == "image" else "audio"
    mime = str(getattr(block, "mime_type", "") or f"{kind}/unknown")
    try:
        size = len(base64.b64decode(block.data, validate=True))
    except (binascii.Error, ValueError, TypeError):
        return f"[{mime}: not valid base64, left out]"
    return Media(kind, mime, block.data, size)


def _resource(inner: Any) -> str:
    text = getattr(inner, "text", None)
    if text is not None:
        return str(text)
    mime = getattr(inner, "mime_type", None)
    return f"[resource {inner.uri}{' ' + mime if mime else ''}]"


def _link(block: Any) -> str:
    parts = [f"[resource {block.uri}"]
    if getattr(block, "mime_type", None):
        parts.append(f" {block.mime_type}")
    label = getattr(block, "title", None) or getattr(block, "name", None)
    if label:
        parts.append(f" {label!s}")
    description = getattr(block, "description", None)
    return "".join(parts) + "]" + (f" {description}" if description else "")


def convert_result(result: Any, *, max_chars: int, max_media_bytes: int) -> tuple[str, tuple[Media, ...]]:
    """(text, media) for a CallToolResult, each within its cap."""
    parts: list[str] = []
    media: list[Media] = []
    has_text = False
    media_bytes = 0
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
            has_text = True
        elif kind in ("image", "audio"):
            item = _media(block)
            if isinstance(item, str):
                parts.append(item)
            elif media_bytes + item.size > max_media_bytes:
                parts.append(
                    f"[{item.mime_type}, {size_label(item.size)}: left out, over the "
                    f"{size_label(max_media_bytes)} limit for the media of one tool result]"
                )
            else:
                media_bytes += item.size
                media.append(item)
                parts.append(f"[{item.mime_type}, {size_label(item.size)}]")
        elif kind == "resource":
            parts.append(_resource(block.resource))
            has_text = has_text or getattr(block.resource, "text", None) is not None
        elif kind == "resource_link":
            parts.append(_link(block))
        else:
            parts.append(f"[{kind or 'content'}]")
    structured = getattr(result, "structured_content", None)
    # Beside media it is often the same bytes again, as base64 in JSON.
    if not has_text and not media and structured is not None:
        parts.insert(0, json.dumps(structured, ensure_ascii=False, separators=(",", ":")))
    return cut_text("\n".join(parts), max_chars), tuple(media)


def cut_text(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n[cut: {len(text) - max_chars} more characters]"
