"""A loopback LLM server for the benchmarks, in its own process.

Every request gets the same streamed answer, sent as fast as the socket takes it (the
tests' FakeLLM with nothing but the reply fixed). Running it in a separate process keeps
its work off the measured process's interpreter.

    with Server(words=20_000) as server:
        server.base  # an OpenAI-format base URL, e.g. http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
MARK = "qxzfinal"  # the answer's last word: nothing else the app shows contains it

CHILD = """
import sys
sys.path.insert(0, {tests!r})
import fakellm
sys.path.insert(0, {bench!r})
from server import fast_stream

fakellm._Handler._stream_openai = fast_stream({words}, {paragraph}, {size}, {chunk})
with fakellm.FakeLLM() as fake:
    print(fake.openai_base, flush=True)
    sys.stdin.read()  # until the parent closes it
"""


def answer(words: int = 0, paragraph: int = 80, size: int = 0) -> str:
    """Markdown prose of `words` words (or about `size` characters), in paragraphs of
    `paragraph` words (0: one endless paragraph), ending with MARK (followed, as
    served, by the model's name: the last word of model `a` is MARK + "a")."""
    vocabulary = ("streaming", "tokens", "arrive", "quickly", "and", "the", "terminal", "keeps", "up",
                  "with", "every", "one", "of", "them", "while", "people", "type")
    if size:
        words = size * 10 // 58  # 5.8 characters a word with its space
    out: list[str] = []
    for i in range(max(0, words - 1)):
        out.append(vocabulary[i % len(vocabulary)])
        out.append("\n\n" if paragraph and i % paragraph == paragraph - 1 else " ")
    out.append(MARK + "\n")
    return "".join(out)


def fast_stream(words: int, paragraph: int, size: int, chunk: int):
    """FakeLLM's OpenAI stream with the events encoded once per model, not per request:
    the per-event JSON of the tests' server would otherwise be the slowest part."""
    import json

    text = answer(words, paragraph, size)
    encoded: dict[str, list[bytes]] = {}

    def events(model: str) -> list[bytes]:
        if model not in encoded:
            body = text.replace(MARK, MARK + model)
            base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": model}
            payloads = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                              "finish_reason": None}]}]
            payloads += [{**base, "choices": [{"index": 0, "delta": {"content": body[i : i + chunk]},
                                               "finish_reason": None}]} for i in range(0, len(body), chunk)]
            payloads.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            payloads.append({**base, "choices": [], "usage": {"prompt_tokens": 10,
                             "completion_tokens": len(body) // 4, "total_tokens": 10 + len(body) // 4}})
            datas = [f"data: {json.dumps(p)}\n\n".encode() for p in payloads] + [b"data: [DONE]\n\n"]
            encoded[model] = [f"{len(d):x}\r\n".encode() + d + b"\r\n" for d in datas]
        return encoded[model]

    def stream(self, reply, body, text_chunks) -> None:
        write = self.wfile.write
        for event in events(self.rec.model):
            write(event)
        self._end_stream()

    return stream


class Server:
    def __init__(self, words: int = 0, *, paragraph: int = 80, size: int = 0, chunk: int = 16) -> None:
        source = CHILD.format(tests=str(ROOT / "tests"), bench=str(ROOT / "bench"), words=words,
                              paragraph=paragraph, size=size, chunk=chunk)
        self.process = subprocess.Popen([sys.executable, "-c", source], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base = self.process.stdout.readline().strip()
        if not self.base:
            raise SystemExit("the bench server did not start")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
