"""Decision API benchmark: one run, one table. `python bench/bench_server.py [--quick]`

In the same run: the in-process library (`Policy.decide` per query, `decide_many` per batch) on
the Open-E policy, then the real server (`policy-engine serve`, the installed console script, on
a free loopback port) under a concurrent load generator, for the single endpoint and the batch
endpoint, with the decision log off, buffered and audit (SQLite, WAL). Reported: decisions per second and
p50/p99 latency (per request for the server; per call for the library), and each server figure
as a ratio to the in-process figure of the same run. With the log on, it also reports how many
of the answered decisions the log had committed when the load stopped, and after SIGTERM.

The load generator is an asyncio HTTP/1.1 client over keep-alive connections (pre-encoded
requests, minimal parsing), so the server, not the client, is what is measured as far as Python
allows; it shares the 2 cores with the server. Loopback only; every loop is bounded in time and
in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "policy-engine"
POLICY = "policies/open_e.policy"
MAX_REQUESTS = 2_000_000  # a hard cap on any load loop, whatever the duration
MAX_CALLS = 20_000_000  # the same for the in-process loops
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def queries(policy: Any, n: int = 256, seed: int = 8) -> list[dict[str, Any]]:
    """Valid Open-E questions, deterministic: every action, facts unknown, none or some."""
    rng = random.Random(seed)
    terms = {kind: list(ids) for kind, ids in policy.terms.items()}
    need = {"collect": ("source",), "use": ("source", "purpose"), "share": ("source", "recipient"),
            "retain": ("purpose",)}
    out = []
    while len(out) < n:
        action = rng.choice(list(need))
        q: dict[str, Any] = {"action": action, "data": rng.choice(terms["data"])}
        for dim in need[action]:
            q[dim] = rng.choice(terms[dim])
        roll = rng.random()
        if roll < 0.4:
            q["facts"] = rng.sample(terms["fact"], rng.randint(0, 2))
        policy.decide(q)  # raises if not valid
        out.append(q)
    return out


# ---- in-process ---------------------------------------------------------------------------------

@dataclass
class Figures:
    label: str
    per_second: float  # decisions per second
    p50_us: float
    p99_us: float
    requests: int = 0
    errors: int = 0
    note: str = ""


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def in_process(policy: Any, qs: list[dict[str, Any]], batch: int, duration: float) -> tuple[Figures, Figures]:
    for q in qs:  # warm, as a server that has seen these questions is
        policy.decide(q)
    timings: list[float] = []
    clock = time.perf_counter
    n = 0
    end = clock() + duration
    while clock() < end and n < MAX_CALLS:
        for q in qs:
            t0 = clock()
            policy.decide(q)
            timings.append(clock() - t0)
        n += len(qs)
    total = sum(timings)
    single = Figures("library decide()", n / total, pct(timings, 0.5) * 1e6, pct(timings, 0.99) * 1e6, n)
    batches = [qs[i % len(qs):i % len(qs) + batch] for i in range(0, len(qs), batch)]
    batches = [b for b in batches if len(b) == batch] or [qs[:batch]]
    timings = []
    n = 0
    end = clock() + duration
    while clock() < end and n < MAX_CALLS:
        for b in batches:
            t0 = clock()
            policy.decide_many(b)
            timings.append(clock() - t0)
            n += len(b)
    many = Figures(f"library decide_many({batch})", n / sum(timings), pct(timings, 0.5) * 1e6,
                   pct(timings, 0.99) * 1e6, n // batch)
    return single, many


# ---- the server -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *args: str, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([str(SCRIPT), "serve", POLICY, "--host", "127.0.0.1", "--port", str(self.port),
                                      "--workers", str(workers), "--log-level", "warning", *args],
                                     cwd=REPO, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited: {self.stderr()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("the server did not become ready in 60 s")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def flushed(self) -> float:
        text = httpx.get(self.url + "/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("policy_engine_decision_log_flushed_rows_total"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def encode(path: str, body: Any) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


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


def load(port: int, requests: list[bytes], concurrency: int, duration: float) -> tuple[list[float], int, int, float]:
    async def main() -> tuple[list[float], int, int, float]:
        timings: list[float] = []
        counts = [0, 0]
        start = time.perf_counter()
        await asyncio.gather(*(_connection(port, requests, start + duration, timings, counts)
                               for _ in range(concurrency)))
        return timings, counts[0], counts[1], time.perf_counter() - start

    return asyncio.run(main())


def server_runs(qs: list[dict[str, Any]], args: argparse.Namespace) -> list[Figures]:
    out: list[Figures] = []
    singles = [encode("/v1/decide", q) for q in qs]
    batches = [encode("/v1/decide/batch", {"queries": (qs * 2)[i:i + args.batch]}) for i in range(0, len(qs), 16)]
    for log_mode in args.log_modes:
        log_on = log_mode != "off"
        tmp = tempfile.mkdtemp(prefix="bench-server-")
        log_args = (["--decision-log", os.path.join(tmp, "decisions.sqlite3"), "--decision-log-mode", log_mode]
                    if log_on else ["--no-decision-log"])
        server = Server(*log_args, workers=args.workers)
        try:
            load(server.port, singles[:8], 4, min(1.0, args.duration))  # warm up
            answered_before = server.flushed() if log_on else 0.0
            # One connection: the latency a lone caller sees (does logging slow an answer?); then
            # saturation, where the writer thread competes for the same cores as the server.
            runs = [("single, 1 connection", singles, 1, 1), ("single", singles, 1, args.concurrency),
                    (f"batch of {args.batch}", batches, args.batch, args.concurrency)]
            for kind, requests, per, conns in runs:
                timings, n, errors, elapsed = load(server.port, requests, conns, args.duration)
                fig = Figures(f"server {kind}, log {log_mode}", n * per / elapsed,
                              pct(timings, 0.5) * 1e6, pct(timings, 0.99) * 1e6, n, errors)
                if log_on:
                    answered = answered_before + n * per
                    answered_before = answered
                    fig.note = f"log had {server.flushed() / answered:.0%} committed at the end of the load"
                out.append(fig)
        finally:
            server.stop()
        if log_on:
            import sqlite3

            conn = sqlite3.connect(os.path.join(tmp, "decisions.sqlite3"))
            rows = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
            conn.close()
            out[-1].note += f"; {rows} rows after SIGTERM"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    ap.add_argument("--concurrency", type=int, default=16, help="open connections (default 16)")
    ap.add_argument("--batch", type=int, default=100, help="queries per batch request (default 100)")
    ap.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    ap.add_argument("--quick", action="store_true", help="1 s per measurement")
    ap.add_argument("--log-modes", default="off,buffered,audit",
                    help="decision log modes to measure, comma-separated (default off,buffered,audit)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    if args.quick:
        args.duration = 1.0
    args.log_modes = [m.strip() for m in args.log_modes.split(",") if m.strip()]
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    import policy_engine

    policy = policy_engine.load(POLICY)
    qs = queries(policy)
    single, many = in_process(policy, qs, args.batch, args.duration)
    served = server_runs(qs, args)

    print(f"policy-engine decision API, {policy.name} ({policy.rule_count} rules), {len(qs)} distinct questions, "
          f"{args.concurrency} connections, {args.workers} worker(s), {args.duration:g} s each, "
          f"{os.cpu_count()} cores")
    print(f"{'':38} {'decisions/s':>12} {'p50 us':>10} {'p99 us':>10} {'requests':>9} {'x library/s':>12} "
          f"{'x library p50':>14}")
    for fig in (single, many):
        print(f"{fig.label:38} {fig.per_second:12,.0f} {fig.p50_us:10.1f} {fig.p99_us:10.1f} {fig.requests:9,}")
    for fig in served:
        base = single if "single" in fig.label else many
        print(f"{fig.label:38} {fig.per_second:12,.0f} {fig.p50_us:10.1f} {fig.p99_us:10.1f} {fig.requests:9,} "
              f"{fig.per_second / base.per_second:12.4f} {fig.p50_us / base.p50_us:14.0f}"
              + (f"  errors: {fig.errors}" if fig.errors else ""))
    off = {f.label.rsplit(", log ", 1)[0]: f for f in served if f.label.endswith(", log off")}
    for fig in served:
        kind, _, mode = fig.label.rpartition(", log ")
        if mode != "off" and kind in off:
            print(f"  cost of the log ({mode}), {kind}: {fig.per_second / off[kind].per_second - 1:+.1%} "
                  f"decisions/s, p99 {fig.p99_us - off[kind].p99_us:+.0f} us")
    for fig in served:
        if fig.note:
            print(f"  {fig.label}: {fig.note}")
    if args.json:
        print(json.dumps([fig.__dict__ for fig in (single, many, *served)], indent=2))
    if any(fig.errors for fig in served):
        sys.exit(1)


if __name__ == "__main__":
    main()
