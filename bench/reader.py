"""The floor: a plain httpx reader of the same stream, parsing each SSE event's delta.

    python bench/reader.py BASE [--print] [--model M]   (one stream; --print writes every delta to stdout)

`read(base, n)` reads n streams at once in this process and returns the seconds to the
last byte of the slowest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx

BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "go"}]}


async def one(client: httpx.AsyncClient, base: str, out: bool = False) -> int:
    received = 0
    async with client.stream("POST", f"{base}/chat/completions", json=BODY,
                             headers={"authorization": "Bearer x"}) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[6:]).get("choices") or ():
                text = (choice.get("delta") or {}).get("content") or ""
                received += len(text)
                if out and text:
                    sys.stdout.write(text)
                    sys.stdout.flush()
    return received


async def read(base: str, streams: int = 1) -> float:
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, base) for _ in range(streams)))
        return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--print", action="store_true")
    args = parser.parse_args()

    async def main() -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            await one(client, args.base, args.print)

    asyncio.run(main())
