"""What both wire formats share: reading SSE events, and turning HTTP failures into
one-line `ProviderError`s that never carry the key."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tui.core._httpx import httpx

from .base import ChatRequest, Delta, Done, ProviderConfig, ProviderError, ProviderEvent


@dataclass(frozen=True)
class SSEEvent:
    event: str  # "message" when the server named none
    data: str


async def iter_sse(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    """Events of a text/event-stream body. An event cut off by the end of the body is
    dropped, as the SSE spec says; the caller notices the missing terminator."""
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value


def one_line(text: str, key: str | None, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    if key:
        text = text.replace(key, "***")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(body: bytes) -> str:
    """The provider's own message from an error body (OpenAI and Anthropic both nest
    it under "error"), else the start of the body."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200] or "(empty body)"
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if payload.get("message"):
            return str(payload["message"])
        if payload.get("detail"):
            return str(payload["detail"])
    return json.dumps(payload)[:200]


def is_retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


async def status_error(
    name: str, response: httpx.Response, key: str | None, key_env: str | None
) -> ProviderError:
    """Read an error response's body and describe it in one line."""
    status = response.status_code
    try:
        body = await response.aread()
    except httpx.HTTPError:
        body = b""
    message = error_message(body)
    if status in (401, 403):
        if key:
            hint = f"the API key was rejected (check {key_env})" if key_env else "the API key was rejected"
        else:
            hint = "no API key was sent"
        if status == 403:
            hint += " or lacks access"
        message = f"{message} ({hint})"
    return ProviderError(
        one_line(f"{name} HTTP {status}: {message}", key),
        status=status,
        retryable=is_retryable(status),
        retry_after=retry_after(response.headers),
    )


def transport_error(
    name: str, exc: httpx.RequestError, key: str | None, partial: str, started: bool
) -> ProviderError:
    """A connection that failed (before a response) or broke (mid-stream). Only a
    base URL httpx cannot use at all is not worth retrying."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        what = "stream cut (timed out)" if started else "request timed out"
    elif started:
        what = "stream cut"
    else:
        what = "connection failed"
    retryable = not isinstance(exc, httpx.UnsupportedProtocol)
    return ProviderError(one_line(f"{name}: {what}: {detail}", key), retryable=retryable, partial=partial)


def stream_cut(name: str, partial: str) -> ProviderError:
    return ProviderError(
        f"{name}: stream cut: the response ended before it was complete",
        retryable=True,
        partial=partial,
    )


def parse_json(name: str, data: str | bytes, key: str | None, partial: str = "") -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise ProviderError(
            one_line(f"{name}: malformed response data: {data[:120]!r}", key),
            retryable=True,
            partial=partial,
        ) from None


def decode_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments; text that is not a JSON object is kept as {"_raw": text}."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def new_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)))


def wants_sse(response: httpx.Response) -> bool:
    """Some OpenAI-compatible servers ignore `stream: true` and answer with JSON."""
    return not response.headers.get("content-type", "").startswith("application/json")


class HttpProvider:
    """What both wire formats share: config, key, a client borrowed or owned, and the
    request itself. A wire format gives `path`, `body`, `headers`, and parses a whole
    reply (`parse_reply`) and a stream (`parse_stream`, appending text as it goes)."""

    path = ""

    def __init__(
        self,
        config: ProviderConfig,
        api_key: str | None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.config = config
        self._key = api_key
        self._owns_client = client is None
        self._client = client if client is not None else new_client(timeout)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self, stream: bool) -> dict[str, str]:
        raise NotImplementedError

    def parse_reply(self, data: Any) -> Done:
        raise NotImplementedError

    def parse_stream(self, response: httpx.Response, text: list[str]) -> AsyncIterator[ProviderEvent]:
        raise NotImplementedError

    async def stream(self, request: ChatRequest, *, stream: bool = True) -> AsyncIterator[ProviderEvent]:
        name = self.config.name
        text: list[str] = []
        started = False
        try:
            async with self._client.stream(
                "POST", self.config.base_url + self.path, json=self.body(request, stream), headers=self.headers(stream)
            ) as response:
                if response.status_code >= 400:
                    raise await status_error(name, response, self._key, self.config.api_key_env)
                started = True
                if not (stream and wants_sse(response)):
                    # Not streamed, or a server that ignored stream: true and sent JSON.
                    done = self.parse_reply(parse_json(name, await response.aread(), self._key))
                    if done.text:
                        yield Delta(done.text)
                    yield done
                    return
                async for event in self.parse_stream(response, text):
                    yield event
        except httpx.RequestError as exc:
            raise transport_error(name, exc, self._key, "".join(text), started) from exc
