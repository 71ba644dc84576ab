"""What both wire formats share: the request under deadlines, and turning every failure
into a one-line `ProviderError` that never carries the key or a control character."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from tui.core._httpx import httpx, ssl_context

from .. import text as _text
from .base import (
    ChatRequest,
    Deadlines,
    Delta,
    Done,
    ProviderConfig,
    ProviderError,
    ProviderEvent,
    ReasoningDelta,
)
from .ratelimit import retry_after
from .shapes import Malformed
from .wire import (
    MAX_ERROR_BYTES,
    MAX_REPLY_BYTES,
    Clock,
    SSEEvent,
    body_chunks,
    read_body,
    sse_batches,
)

__all__ = [
    "HttpProvider",
    "SSEEvent",
    "decode_arguments",
    "is_retryable",
    "one_line",
    "parse_json",
    "reported_cost",
    "retry_after",
    "stream_cut",
]


def scrub(text: str, key: str | None) -> str:
    """`text` without the key in any form it may be quoted in (raw, stripped, repr)."""
    if not key:
        return text
    forms = {key, key.strip(), repr(key)[1:-1], *(part for part in key.split() if len(part) >= 8)}
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def one_line(text: str, key: str | None, limit: int = 300) -> str:
    return scrub(_text.one_line(scrub(str(text), key), limit), key)


def error_message(body: bytes) -> str:
    """The provider's own message from an error body (OpenAI and Anthropic both nest
    it under "error"), else the start of the body."""
    try:
        payload: Any = json.loads(body)
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
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace").strip()[:200] or "(empty body)"


def is_retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


async def status_error(
    name: str, response: httpx.Response, clock: Clock, key: str | None, key_env: str | None
) -> ProviderError:
    """Read (the start of) an error response's body and describe it in one line."""
    status = response.status_code
    pieces: list[bytes] = []
    size = 0
    try:
        async with aclosing(body_chunks(response, clock, 1 << 62, what="error body")) as chunks:
            async for chunk in chunks:
                pieces.append(chunk)
                size += len(chunk)
                if size >= MAX_ERROR_BYTES:
                    break
    except (httpx.HTTPError, ProviderError):
        pass
    message = error_message(b"".join(pieces)[:MAX_ERROR_BYTES])
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
        retry_after=retry_after(response.headers, status),
    )


def transport_error(
    name: str, exc: httpx.RequestError, key: str | None, started: bool, deadlines: Deadlines
) -> ProviderError:
    """A connection that failed (before a response) or broke (mid-stream). Only a
    request httpx cannot make at all is not worth retrying."""
    if isinstance(exc, httpx.LocalProtocolError):
        # Its text quotes the offending header, which may be the key: never shown.
        return ProviderError(f"{name}: the request could not be sent (a header httpx refused)")
    detail = one_line(str(exc) or type(exc).__name__, key, 200)
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return ProviderError(f"{name}: could not connect within {deadlines.connect_s:g}s", retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        what = "stream cut (timed out)" if started else "request timed out"
    elif started:
        what = "stream cut"
    else:
        what = "connection failed"
    retryable = not isinstance(exc, httpx.UnsupportedProtocol)
    return ProviderError(f"{name}: {what}: {detail}", retryable=retryable)


def stream_cut(name: str) -> ProviderError:
    return ProviderError(f"{name}: stream cut: the response ended before it was complete", retryable=True)


def parse_json(name: str, data: str | bytes, what: str = "stream chunk") -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        shown = data[:80] if isinstance(data, str) else data[:80].decode("utf-8", "replace")
        raise ProviderError(f"{name}: malformed {what}: not JSON: {shown!r}", retryable=True) from None


def decode_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments; text that is not a JSON object is kept as {"_raw": text}."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def reported_cost(value: object) -> float | None:
    """A provider's own cost figure in USD (a number, or a header's text), or None when
    it is absent or not a finite amount of at least 0: a cost is never guessed here."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def new_client(timeout: float) -> httpx.AsyncClient:
    # No retries of the transport's own: the engine's one retry budget is the only one.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        verify=ssl_context(),  # also for the proxies httpx mounts from the environment
        transport=httpx.AsyncHTTPTransport(retries=0, verify=ssl_context()),
    )


def wants_sse(response: httpx.Response) -> bool:
    """Some OpenAI-compatible servers ignore `stream: true` and answer with JSON."""
    return not response.headers.get("content-type", "").startswith("application/json")


def key_problem(key: str | None) -> bool:
    """A key that cannot go in a header as it is: control or non-ASCII characters, or
    surrounding whitespace."""
    return bool(key) and (key != key.strip() or not all(" " <= c <= "~" for c in key))  # type: ignore[union-attr]


def _with_cost(done: Done, header_cost: float | None) -> Done:
    """The body's own cost wins; else LiteLLM's `x-litellm-response-cost` header."""
    if done.cost_usd is not None or header_cost is None:
        return done
    return dataclasses.replace(done, cost_usd=header_cost)


def _lower(limit: float | None, bound: float) -> float:
    return bound if limit is None else min(limit, bound)


class HttpProvider:
    """What both wire formats share: config, key, a client borrowed or owned, and the
    request itself. A wire format gives `path`, `body`, `headers`, and parses a whole
    reply (`parse_reply`) and a stream (`parse_stream`, appending answer text as it goes
    and setting `clock.progressed` at the first text, thinking or tool-call delta), both
    given the request they answer. Either raises `Malformed` for JSON of the wrong shape."""

    path = ""

    def __init__(
        self,
        config: ProviderConfig,
        api_key: str | None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 120.0,
        keep_text: bool = True,
    ) -> None:
        self.config = config
        self._key = api_key
        # False: a stream's end (`Done.text`) and a failure's `partial` leave out the text
        # its deltas carried, which their reader keeps (the worker's app): held once, not twice.
        self.keep_text = keep_text
        self._owns_client = client is None
        self._client = client if client is not None else new_client(timeout)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self, stream: bool) -> dict[str, str]:
        raise NotImplementedError

    def parse_reply(self, data: Any, request: ChatRequest) -> Done:
        raise NotImplementedError

    def parse_stream(
        self, batches: AsyncIterator[list[SSEEvent]], text: list[str], clock: Clock, request: ChatRequest
    ) -> AsyncIterator[ProviderEvent]:
        raise NotImplementedError

    def _timeout(self, d: Deadlines) -> httpx.Timeout:
        """httpx's own timeouts: the client's, lowered to the deadlines. Its read timeout
        is only a backstop behind the clock's idle deadline."""
        base = self._client.timeout
        return httpx.Timeout(
            connect=_lower(base.connect, d.connect_s),
            read=_lower(base.read, d.idle_s + 1.0),
            write=_lower(base.write, d.idle_s + 1.0),
            pool=_lower(base.pool, d.connect_s),
        )

    async def stream(self, request: ChatRequest, *, stream: bool = True) -> AsyncIterator[ProviderEvent]:
        name = self.config.name
        text: list[str] = [] if self.keep_text else _Unkept()
        started = False
        what = "stream chunk" if stream else "reply"
        response: httpx.Response | None = None
        clock: Clock | None = None
        try:
            if key_problem(self._key):
                raise ProviderError(
                    f"{name}: the API key{f' in {self.config.api_key_env}' if self.config.api_key_env else ''}"
                    " holds control or non-ASCII characters or surrounding spaces and cannot be sent"
                )
            clock = Clock(name, request.deadlines)
            headers = {"Accept-Encoding": "gzip, deflate", **self.headers(stream)}
            http_request = self._client.build_request(
                "POST",
                self.config.base_url + self.path,
                json=self.body(request, stream),
                headers=headers,
                timeout=self._timeout(request.deadlines),
            )
            response = await clock.wait(self._client.send(http_request, stream=True), idle=False)
            if response.status_code >= 400:
                raise await status_error(name, response, clock, self._key, self.config.api_key_env)
            started = True
            header_cost = reported_cost(response.headers.get("x-litellm-response-cost"))
            if not (stream and wants_sse(response)):
                # Not streamed, or a server that ignored stream: true and sent JSON.
                what = "reply"
                data = parse_json(name, await read_body(response, clock, MAX_REPLY_BYTES), what)
                done = self.parse_reply(data, request)
                if done.reasoning:
                    yield ReasoningDelta(done.reasoning)
                if done.text:
                    yield Delta(done.text)
                yield _with_cost(done, header_cost)
                return
            # A stream's headers were written before its answer existed: a zero there
            # says nothing about what the answer cost.
            header_cost = header_cost or None
            async for event in self.parse_stream(sse_batches(response, clock), text, clock, request):
                yield _with_cost(event, header_cost) if isinstance(event, Done) else event
        except ProviderError as e:
            raise self._finish(e, text) from None
        except Malformed as e:
            raise self._finish(ProviderError(f"{name}: malformed {what}: {e}", retryable=True), text) from None
        except httpx.RequestError as e:
            raise self._finish(transport_error(name, e, self._key, started, request.deadlines), text) from None
        except Exception as e:  # noqa: BLE001 - nothing but ProviderError may leave stream()
            # The exception's text may quote a header (the key): only its type is shown.
            raise self._finish(ProviderError(f"{name}: request failed ({type(e).__name__})"), text) from None
        finally:
            if clock is not None:
                clock.close()
            if response is not None:
                await response.aclose()

    def _finish(self, error: ProviderError, text: list[str]) -> ProviderError:
        """The error with the text streamed so far, and with no trace of the key."""
        if text and not error.partial:
            error.partial = "".join(text)
        message = str(error)
        clean = scrub(message, self._key)
        if clean != message:
            error.args = (clean,)
        return error


class _Unkept(list[str]):
    """The streamed text of a provider that does not keep it (`keep_text=False`): always empty."""

    def append(self, piece: str) -> None:
        pass
