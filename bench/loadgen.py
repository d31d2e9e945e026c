"""The load generators of bench_server.py: wrk where it is installed (a Lua script sends the bench's
request bodies in turn and prints its latency percentiles as JSON), else an asyncio HTTP/1.1 client
over keep-alive connections (pre-encoded requests, minimal parsing). Each returns (requests,
errors, seconds, p50 s, p99 s). Loopback only; bounded in time and in count.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

MAX_REQUESTS = 2_000_000  # a hard cap on any load loop, whatever the duration
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


WRK = shutil.which("wrk")
_WRK_SCRIPT = r"""
local path = os.getenv("BENCH_PATH")
local depth = tonumber(os.getenv("BENCH_PIPELINE") or "1")
local requests = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, line)
end
local i = math.random(#requests)
request = function()
  if depth == 1 then
    i = i % #requests + 1
    return requests[i]
  end
  local out = {}
  for k = 1, depth do
    i = i % #requests + 1
    out[k] = requests[i]
  end
  return table.concat(out)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\nBENCH {"requests":%d,"seconds":%f,"errors":%d,"p50":%d,"p99":%d}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def with_wrk(port: int, path: str, bodies: list[bytes], concurrency: int, duration: float,
             threads: int, pipeline: int = 1) -> tuple[int, int, float, float, float]:
    """(requests, errors, seconds, p50 s, p99 s) from wrk. `pipeline` > 1: each connection sends that
    many requests in one write (HTTP/1.1 pipelining) and wrk counts each response, so its CPU per
    request falls about that many times and the cores go to the server: how the bench shows what
    a second worker adds when the load generator does not take the second core."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script, lines = Path(tmp) / "post.lua", Path(tmp) / "bodies.jsonl"
        script.write_text(_WRK_SCRIPT)
        lines.write_bytes(b"\n".join(bodies) + b"\n")
        out = subprocess.run([WRK, "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(duration))}s",
                              "-s", str(script), f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             timeout=duration + 120, env={**os.environ, "BENCH_PATH": path, "BENCH_BODIES": str(lines),
                                                                "BENCH_PIPELINE": str(pipeline)})
    found = re.search(r"^BENCH (\{.*\})$", out.stdout, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk gave no figures: {out.stdout}{out.stderr}")
    r = json.loads(found.group(1))
    return r["requests"], r["errors"], r["seconds"], r["p50"] / 1e6, r["p99"] / 1e6


def encode(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _connection(port: int, requests: list[bytes], end: float, timings: list[float], counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    clock = time.perf_counter
    i = random.randrange(len(requests))
    try:
        while clock() < end and counts[0] < MAX_REQUESTS:
            t0 = clock()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            m = _LENGTH.search(head)
            await reader.readexactly(int(m.group(1)) if m else 0)
            timings.append(clock() - t0)
            counts[0] += 1
            if not head.startswith(b"HTTP/1.1 200"):
                counts[1] += 1
            i += 1
    finally:
        writer.close()


def with_asyncio(port: int, path: str, bodies: list[bytes], concurrency: int,
                 duration: float) -> tuple[int, int, float, float, float]:
    requests = [encode(path, b) for b in bodies]

    async def main() -> tuple[int, int, float, float, float]:
        timings: list[float] = []
        counts = [0, 0]
        start = time.perf_counter()
        await asyncio.gather(*(_connection(port, requests, start + duration, timings, counts)
                               for _ in range(concurrency)))
        return counts[0], counts[1], time.perf_counter() - start, pct(timings, 0.5), pct(timings, 0.99)

    return asyncio.run(main())
