"""Decision API benchmark: one run, one table. `python bench/bench_server.py [--quick]`

In the same run, under the same load generator: the floor (bench/floor_app.py: a bare ASGI app on
the same uvicorn that parses the JSON body and answers a dict lookup; at N workers run as `serve
--workers N` runs them, a listening socket each: bench/floor_serve.py), then the real server
(`policy-engine serve`, the installed console script, on a free loopback port), for the single
endpoint at one and two workers and the batch endpoint (100 queries a request), with the decision
log off and on (SQLite, WAL; buffered, and audit with `--log-modes off,buffered,audit`). Also, for
scale, the in-process library (`Policy.decide` per query, `decide_many` per batch). Reported:
decisions per second and p50/p99 latency per request, each server figure as a share of the floor
of the same endpoint and worker count, two workers against one, and the cost of the log. With the
log on, it also reports how many of the answered decisions the log had committed when the load
stopped, and after SIGTERM.

The load generator is wrk where it is installed (`apt-get install wrk`; a Lua script sends the
bench's questions in turn and prints its latency percentiles), else an asyncio HTTP/1.1 client
over keep-alive connections (pre-encoded requests, minimal parsing), which shares the cores with
the server and so measures less precisely; the table says which one ran. Loopback only; every
loop is bounded in time and in count.

Why a pipelined round too (`--pipeline 8`, wrk only, log off): on a machine of two cores the load
generator takes a good part of one of them at this rate, so two workers cannot have two cores and
"two workers against one" measures the machine, not the server (the floor itself reaches about
1.4x). With eight requests in one write per connection wrk spends about a sixth of the CPU per
request, and the ratio at that depth shows what the second worker gives when it has a core.

The targets (issue 13): single, 1 worker >= 80% of the floor with p99 <= 5 ms at 16 connections;
2 workers >= 1.6x one; batch of 100 >= 300,000 decisions/s; the log on costs <= 10% on both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import WRK, pct, with_asyncio, with_wrk  # noqa: E402  (bench/ is not a package)

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "policy-engine"
POLICY = "policies/open_e.policy"
MAX_CALLS = 20_000_000  # the same for the in-process loops


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
    cpu_us: float = 0.0  # server CPU (all its processes) per decision
    round: int = 0  # which of the `--repeat` rounds (the servers of one worker count take turns in each)


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


# ---- the servers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`policy-engine serve` (floor=False) or the floor app on uvicorn, on a free loopback port."""

    def __init__(self, *args: str, workers: int, floor: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        common = ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers), "--log-level", "warning"]
        if floor and workers > 1:  # served as `serve --workers N` serves: a listening socket per worker
            argv = [sys.executable, str(REPO / "bench" / "floor_serve.py"), *common]
        elif floor:
            argv = [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(REPO / "bench"), "--http",
                    "httptools", "--no-access-log", "--lifespan", "off", *common]
        else:
            argv = [str(SCRIPT), "serve", POLICY, *common, *args]
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=self.log)
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

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and its worker processes so far (Linux /proc; 0 elsewhere). On a
        shared machine the CPU per decision is steadier than the rate, which other loads move."""
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == self.proc.pid or ppid == self.proc.pid:
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

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


def load(args: argparse.Namespace, port: int, path: str, bodies: list[bytes], duration: float,
         concurrency: int | None = None, pipeline: int = 1) -> tuple[int, int, float, float, float]:
    conns = concurrency or args.concurrency
    if WRK and not args.asyncio:
        return with_wrk(port, path, bodies, conns, duration, args.wrk_threads, pipeline)
    return with_asyncio(port, path, bodies, conns, duration)


# ---- the runs ---------------------------------------------------------------------------------------

@dataclass
class Served:
    """One server process of the plan, and what its rounds need."""
    kind: str  # floor | server
    log_mode: str
    server: Server
    tmp: str
    db: str
    answered: float = 0.0  # decisions answered so far, for the log's committed share

    @property
    def log_on(self) -> bool:
        return _log_on(self.kind, self.log_mode)


def _log_on(kind: str, log_mode: str) -> bool:
    return kind == "server" and log_mode != "off"


def _start(kind: str, workers: int, log_mode: str) -> Served:
    tmp = tempfile.mkdtemp(prefix="bench-server-")
    db = os.path.join(tmp, "decisions.sqlite3")
    log_args = (["--decision-log", db, "--decision-log-mode", log_mode] if _log_on(kind, log_mode)
                else ["--no-decision-log"])
    return Served(kind, log_mode, Server(*log_args, workers=workers, floor=kind == "floor"), tmp, db)


def _finish(served: Served, figures: list[Figures]) -> None:
    """Stop the server; with the log on, note on its last figure what the file holds after SIGTERM."""
    served.server.stop()
    if served.log_on and figures:
        import sqlite3

        conn = sqlite3.connect(served.db)
        # decisions, not rows: a batch row holds n of them (n NULL: one)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(decisions)")}
        rows, decisions = conn.execute(
            f"SELECT count(*), {'sum(coalesce(n, 1))' if 'n' in columns else 'count(*)'} FROM decisions").fetchone()
        conn.close()
        figures[-1].note += f"; {decisions or 0} decisions in {rows} rows after SIGTERM"
    shutil.rmtree(served.tmp, ignore_errors=True)


def server_runs(qs: list[dict[str, Any]], args: argparse.Namespace) -> list[Figures]:
    """Per worker count: the floor and the server in each log mode, all started at once and warmed
    up, then `--repeat` rounds in which each takes its turn at each endpoint. Why in turns: on a
    shared machine the rate drifts from minute to minute more than the log costs, so the log's cost
    is taken from rounds measured side by side (report: their median), not from runs minutes apart."""
    out: list[Figures] = []
    singles = [json.dumps(q, separators=(",", ":")).encode() for q in qs]
    batches = [json.dumps({"queries": (qs * 2)[i:i + args.batch]}, separators=(",", ":")).encode()
               for i in range(0, len(qs), 16)]
    for workers in args.workers:
        modes = args.log_modes if workers == 1 else args.log_modes[:2]
        group: list[Served] = []
        mine: dict[int, list[Figures]] = {}
        try:
            for kind, log_mode in [("floor", "off"), *(("server", mode) for mode in modes)]:
                group.append(_start(kind, workers, log_mode))
            runs = [("single", "/v1/decide", singles, 1, 1)] if "single" in args.endpoints else []
            if "batch" in args.endpoints and (workers == 1 or args.batch_two_workers):
                runs.append((f"batch of {args.batch}", "/v1/decide/batch", batches, args.batch, 1))
            if "single" in args.endpoints and pipelined(args):
                runs.append((f"single pipelined x{args.pipeline}", "/v1/decide", singles, 1, args.pipeline))
            for served in group:
                # Warm up on every body each will be measured on: else the first round of a logging server
                # also pays for learning its questions' pairs and growing a new file (measured: a first
                # round's log cost of 25% where the others' were 4-11%).
                served.answered = 0.0  # decisions asked of it so far: what its log is to have committed
                for path in dict.fromkeys(path for _, path, _, _, _ in runs) or ["/v1/decide"]:
                    batch = path.endswith("batch")
                    n = load(args, served.server.port, path, batches if batch else singles, 1.0, 4)[0]
                    served.answered += n * (args.batch if batch else 1)
                mine[id(served)] = []
            for round_ in range(args.repeat):
                for what, path, bodies, per, depth in runs:
                    for served in group:
                        if depth > 1 and served.log_mode != "off":
                            continue  # pipelined: log off only
                        server = served.server
                        cpu_before = server.cpu_seconds()
                        n, errors, elapsed, p50, p99 = load(args, server.port, path, bodies, args.duration,
                                                            pipeline=depth)
                        cpu = server.cpu_seconds() - cpu_before
                        label = f"{served.kind} {what}, {workers} worker{'s' * (workers > 1)}" + (
                            f", log {served.log_mode}" if served.kind == "server" else "")
                        if depth > 1:  # wrk times a pipelined write as one: no latency per request
                            p50 = p99 = float("nan")
                        fig = Figures(label, n * per / elapsed, p50 * 1e6, p99 * 1e6, n, errors,
                                      cpu_us=cpu / max(1, n * per) * 1e6, round=round_)
                        if served.log_on:
                            served.answered += n * per
                            fig.note = f"log had {server.flushed() / served.answered:.0%} committed at the end of the load"
                        mine[id(served)].append(fig)
                        out.append(fig)
        finally:
            for served in group:
                _finish(served, mine.get(id(served), []))
    return out


def pipelined(args: argparse.Namespace) -> bool:
    """Whether the pipelined single round runs: wrk only (the asyncio client does not pipeline)."""
    return args.pipeline > 1 and bool(WRK) and not args.asyncio


def best(figures: list[Figures], label: str) -> Figures | None:
    """The best round of a label (the machine is shared: the best is the least disturbed)."""
    rounds = [f for f in figures if f.label == label]
    return max(rounds, key=lambda f: f.per_second) if rounds else None


def log_costs(figures: list[Figures], on: str, off: str) -> list[float]:
    """The log's cost in each round: 1 - (log on / log off), the two measured in the same round."""
    rate = {(f.label, f.round): f.per_second for f in figures}
    return [1 - rate[(on, r)] / rate[(off, r)] for (label, r) in rate if label == on and (off, r) in rate]


def report(single: Figures, many: Figures, served: list[Figures], args: argparse.Namespace, policy: Any,
           qs: list[Any]) -> None:
    generator = f"wrk ({args.wrk_threads} thread{'s' * (args.wrk_threads > 1)})" if WRK and not args.asyncio \
        else f"the asyncio client ({'--asyncio' if WRK else 'wrk not installed'})"
    print(f"policy-engine decision API, {policy.name} ({policy.rule_count} rules), {len(qs)} distinct questions, "
          f"{args.concurrency} connections, load by {generator}, {args.duration:g} s each, {args.repeat} round(s), "
          f"{os.cpu_count()} cores")
    print(f"{'':48} {'decisions/s':>12} {'p50 us':>9} {'p99 us':>9} {'requests':>9} {'cpu us/dec':>10} "
          f"{'x floor':>8}")
    for fig in (single, many):
        print(f"{fig.label:48} {fig.per_second:12,.0f} {fig.p50_us:9.1f} {fig.p99_us:9.1f} {fig.requests:9,}")
    for fig in served:
        kind, _, rest = fig.label.partition(" ")
        floor = best(served, "floor " + rest.split(", log ")[0])
        share = f"{fig.per_second / floor.per_second:8.0%}" if kind == "server" and floor else ""
        print(f"{fig.label:48} {fig.per_second:12,.0f} {fig.p50_us:9.0f} {fig.p99_us:9.0f} {fig.requests:9,} "
              f"{fig.cpu_us:10.2f} {share}"
              + (f"  errors: {fig.errors}" if fig.errors else ""))
    print("best rounds:")
    for label in dict.fromkeys(f.label for f in served):
        fig = best(served, label)
        assert fig is not None
        line = f"  {label:46} {fig.per_second:12,.0f}/s" + (
            f" p99 {fig.p99_us / 1000:.2f} ms" if fig.p99_us == fig.p99_us else "")  # NaN: not measured
        if label.startswith("server") and ", log " in label and not label.endswith("log off"):
            off_label = label.rsplit(", log ", 1)[0] + ", log off"
            off = best(served, off_label)
            if off:
                line += f"; the log costs {1 - fig.per_second / off.per_second:.1%}"
                paired = log_costs(served, label, off_label)
                if len(paired) > 1:
                    line += (f" (best rounds; round by round {', '.join(f'{c:.1%}' for c in paired)}: "
                             f"median {statistics.median(paired):.1%})")
        if " 2 workers" in label:
            one = best(served, label.replace(" 2 workers", " 1 worker"))
            if one:
                line += f"; {fig.per_second / one.per_second:.2f}x one worker"
            what = label.split(", ")[0].partition(" ")[2]  # e.g. "single" or "single pipelined x8"
            floors = best(served, f"floor {what}, 2 workers"), best(served, f"floor {what}, 1 worker")
            if label.startswith("server") and floors[0] and floors[1]:  # the load generator shares the cores too
                line += f" (the floor: {floors[0].per_second / floors[1].per_second:.2f}x)"
        print(line)
    for fig in served:
        if fig.note:
            print(f"  {fig.label}: {fig.note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    ap.add_argument("--concurrency", type=int, default=16, help="open connections (default 16)")
    ap.add_argument("--batch", type=int, default=100, help="queries per batch request (default 100)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of each measurement, the servers of one worker count taking turns in each; the "
                         "best is summed up, and the log's cost also round by round")
    ap.add_argument("--quick", action="store_true", help="1 s per measurement")
    ap.add_argument("--log-modes", default="off,buffered",
                    help="decision log modes to measure, comma-separated (default off,buffered; audit too)")
    ap.add_argument("--batch-two-workers", action="store_true", help="measure the batch at 2 workers too")
    ap.add_argument("--endpoints", default="single,batch",
                    help="endpoints to measure, comma-separated (default single,batch)")
    ap.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated (default 1,2)")
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: the cores go to the server)")
    ap.add_argument("--pipeline", type=int, default=8,
                    help="also measure single decisions with this many requests pipelined per write, log off, "
                         "at 1 and 2 workers (wrk only; 1: not at all; default 8): with the load generator's CPU per "
                         "request that much smaller, two workers against one shows what the second core gives")
    ap.add_argument("--asyncio", action="store_true", help="use the asyncio load generator even where wrk is")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    if args.quick:
        args.duration = 1.0
    args.log_modes = [m.strip() for m in args.log_modes.split(",") if m.strip()]
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if not set(args.endpoints) <= {"single", "batch"} or not set(args.workers) <= {1, 2}:
        ap.error("--endpoints takes single and/or batch, --workers 1 and/or 2")
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    import policy_engine

    policy = policy_engine.load(POLICY)
    qs = queries(policy)
    single, many = in_process(policy, qs, args.batch, min(args.duration, 2.0))
    served = server_runs(qs, args)
    report(single, many, served, args, policy, qs)
    if args.json:
        print(json.dumps([{k: None if v != v else v for k, v in fig.__dict__.items()}  # NaN (not measured): null
                          for fig in (single, many, *served)], indent=2))
    if any(fig.errors for fig in served):
        sys.exit(1)


if __name__ == "__main__":
    main()
