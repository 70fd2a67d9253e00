"""A lean OpenAI-compatible stub for benchmarks, run in its own process.

``tests/support/stub_llm.py`` (FastAPI + uvicorn in a thread) is right for tests but, inside the
benchmark's process, it competes for the GIL with the code being measured. This one is a bare
asyncio HTTP/1.1 server (keep-alive, ``Content-Length`` bodies only) meant to be started as a
subprocess::

    python -m tests.benchmarks.lean_stub --port 8099 --latency-ms 50

``POST /v1/chat/completions`` answers after ``latency_ms`` with the first ``echo_words`` words of
the last user message (same reply as the test stub). ``GET /stats`` returns
``{"calls": N, "in_flight": N, "max_in_flight": N}``; ``POST /reset`` zeroes the counters (so a
benchmark can check that no more than ``concurrency`` calls were ever in flight at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time


class Stats:
    def __init__(self) -> None:
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


def _response(status: int, body: bytes, reason: str = "OK") -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


def completion(body: bytes, echo_words: int, n: int) -> bytes:
    req = json.loads(body or b"{}")
    users = [m.get("content") or "" for m in req.get("messages", []) if m.get("role") == "user"]
    user = users[-1] if users else ""
    if isinstance(user, list):  # content parts
        user = " ".join(p.get("text", "") for p in user if isinstance(p, dict))
    reply = " ".join(user.split()[:echo_words])
    return json.dumps(
        {
            "id": f"stub-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": reply},
                }
            ],
            "usage": {
                "prompt_tokens": len(user.split()),
                "completion_tokens": len(reply.split()),
                "total_tokens": len(user.split()) + len(reply.split()),
            },
        }
    ).encode()


async def handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    stats: Stats,
    latency_s: float,
    echo_words: int,
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            path = path.split("?", 1)[0]
            if method == "POST" and path.endswith("/chat/completions"):
                stats.calls += 1
                n = stats.calls
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                try:
                    if latency_s:
                        await asyncio.sleep(latency_s)
                finally:
                    stats.in_flight -= 1
                out = _response(200, completion(body, echo_words, n))
            elif path.endswith("/stats"):
                out = _response(200, json.dumps(stats.as_dict()).encode())
            elif method == "POST" and path.endswith("/reset"):
                stats.calls = stats.max_in_flight = 0
                out = _response(200, b"{}")
            elif path.endswith("/models"):
                out = _response(200, b'{"object":"list","data":[{"id":"stub","object":"model"}]}')
            else:
                out = _response(404, b'{"error":{"message":"not found"}}', "Not Found")
            writer.write(out)
            await writer.drain()
    finally:
        writer.close()


async def serve(port: int, latency_s: float, echo_words: int) -> None:
    stats = Stats()
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, stats, latency_s, echo_words), "127.0.0.1", port, backlog=512
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"lean stub listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--echo-words", type=int, default=6)
    args = p.parse_args()
    asyncio.run(serve(args.port, args.latency_ms / 1000.0, args.echo_words))


if __name__ == "__main__":
    main()
