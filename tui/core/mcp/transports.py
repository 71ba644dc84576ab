"""What an MCP server over HTTP answered, so a refusal reads better than "Not Found"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


class Refused(Exception):
    """No HTTP transport was accepted; the text says what each one was answered."""


TRANSPORT_NAMES = {"http": "streamable HTTP", "sse": "HTTP+SSE"}


class HttpLog:
    """The first HTTP error a server answered, so a refusal reads better than "Not Found"."""

    def __init__(self, method: str | None = None) -> None:
        self.method = method  # the only method watched, if given
        self.status: int | None = None
        self.refused: str | None = None

    async def hook(self, response: Any) -> None:
        if self.method not in (None, response.request.method):
            return
        if response.status_code >= 400 and self.status is None:
            self.status = response.status_code
            self.refused = f"{response.request.method} answered {response.status_code} {response.reason_phrase}"


def shown_url(url: str) -> str:
    """The URL without what may hold a secret: user info, query and fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url.split("?")[0]
