"""Subject store benchmark: `python bench/bench_subjects.py [--subjects N] [--backend sqlite|postgresql|both]`

1. The retention sweep over N subjects with 5 events each (a consent, an account opened, two kinds
   of data collected, and for every other subject the account closed), on SQLite and on
   PostgreSQL (a temporary server started with the machine's initdb/pg_ctl, unless --pg-url).
   The rows are bulk-loaded (the sweep is measured, not the ingest); `record()` is timed on a few
   thousand events for the ingest rate through the store's own path (one transaction each).
2. A subject decision against a fact decision over HTTP (both on /v1/decide): the installed `policy-engine serve` on a
   free loopback port with a SQLite store, sequential requests, p50 and p99 per request.
The sweep is timed twice: with the shop policy, and with time limits added (sweep_timed_s, with
what becomes due in the next 60 days).
Targets (issue 11): sweep of 1,000,000 subjects under 30 s on SQLite, under 10 s on PostgreSQL;
a subject decision within 3x of a fact decision. Loops are bounded in count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policy_engine import load  # noqa: E402
from policy_engine.subjects import current  # noqa: E402
from policy_engine.subjects.model import check_event, parse_time  # noqa: E402
from policy_engine.subjects.sweep import sweep  # noqa: E402
from policy_engine.subjects.store import SubjectStore  # noqa: E402

SHOP = REPO / "tests" / "subjects" / "shop.policy"
# The same policy with time limits (docs/semantics.md) on both kinds of anchor: the sweep then also groups
# rows by the ages of their collection and of a fact's start.
TIMED_RULES = """
section "Timed retention":
  allow retain of ip_address for accounting within 90 days
  allow retain of email for marketing within 30 days after newsletter_form
"""
T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-02-01T00:00:00.000000Z"


def rows(n: int):
    for i in range(n):
        s = f"s{i:07d}"
        yield (s, "begin", "newsletter_form", None, None, T0, f"{s}-1")
        yield (s, "begin", "active_account", None, None, T0, f"{s}-2")
        yield (s, "collected", None, "email", "contact", T0, f"{s}-3")
        yield (s, "collected", None, "ip_address", "website", T0, f"{s}-4")
        if i % 2:
            yield (s, "end", "active_account", None, None, T1, f"{s}-5")
        else:
            yield (s, "collected", None, "email", "contact", T1, f"{s}-5")


def bulk_load(store: SubjectStore, n: int) -> float:
    start = time.perf_counter()
    if store.dialect == "sqlite":
        conn = store.backend._conn()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events (subject, kind, fact, category, source, at, idempotency_key, fingerprint,"
                         " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)", ((*r, T1) for r in rows(n)))
        conn.execute("COMMIT")
    else:
        conn = store.backend._conn()
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy("COPY events (subject, kind, fact, category, source, at, idempotency_key, fingerprint, "
                          "recorded_at) FROM STDIN") as copy:
                for r in rows(n):
                    copy.write_row((*r, "", T1))
        conn.execute("ANALYZE events")
        conn.commit()
    return time.perf_counter() - start


def rebuild(store: SubjectStore) -> float:
    """The current tables from the bulk-loaded events (what migration 3 does for an existing store)."""
    start = time.perf_counter()
    with store.backend.transaction() as tx:
        current.rebuild(tx, store.dialect)
        if store.dialect == "postgresql":
            tx.execute("ANALYZE")
    return time.perf_counter() - start


def bench_sweep(url: str, n: int, policy, timed) -> dict:
    store = SubjectStore.open(url)
    loaded = bulk_load(store, n)
    rebuilt = rebuild(store)
    start = time.perf_counter()
    out = sweep(policy, store, parse_time("2026-03-01T00:00:00Z", "at"), limit=1000)
    took = time.perf_counter() - start
    start = time.perf_counter()
    timed_out = sweep(timed, store, parse_time("2026-03-01T00:00:00Z", "at"), limit=1000, within_days=60)
    timed_took = time.perf_counter() - start
    events = store.count_events()
    k = 2000
    t = time.perf_counter()
    for i in range(k):
        store.record(check_event(f"r{i}", {"kind": "begin", "fact": "newsletter_form", "at": "2026-01-01T00:00:00Z"}),
                     f"bench-{i}")
    ingest = k / (time.perf_counter() - t)
    store.close()
    assert out["due"] == n // 2, out["due"]  # every other subject closed its account: its IP address is due
    # with the limits, the closed accounts' IP addresses are kept for accounting until 2026-04-01: upcoming
    assert timed_out["due"] == 0 and timed_out["upcoming"]["count"] == n // 2, timed_out["upcoming"]["count"]
    return {"backend": store.dialect, "subjects": n, "events": events, "load_s": round(loaded, 1), "rebuild_s": round(rebuilt, 1),
            "sweep_s": round(took, 2), "sweep_timed_s": round(timed_took, 2), "due": out["due"], "record_per_s": round(ingest)}


def bench_http(workdir: Path, requests: int) -> dict:
    from socket import socket

    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = workdir / "http.sqlite3"
    store = SubjectStore.open(str(db))
    bulk_load(store, 10_000)
    rebuild(store)
    store.close()
    tokens = workdir / "tokens"
    tokens.write_text("bench subjects:read\n")
    env = {**os.environ, "POLICY_ENGINE_SUBJECT_STORE": str(db), "POLICY_ENGINE_SUBJECT_TOKENS": str(tokens)}
    script = Path(sys.executable).with_name("policy-engine")
    proc = subprocess.Popen([str(script), "serve", str(SHOP), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        q = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer bench"}) as c:
            fact: list[float] = []
            subj: list[float] = []
            for i in range(requests):  # interleaved, so warm-up and load changes fall on both alike
                for path, body, out in (("/v1/decide", {**q, "facts": ["newsletter_form"]}, fact),
                                        ("/v1/decide", {**q, "subject": f"s{i % 10_000:07d}"}, subj)):
                    t = time.perf_counter()
                    r = c.post(path, json=body)
                    out.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait(30)

    def p(xs: list[float], q: float) -> float:
        return round(statistics.quantiles(xs, n=100)[int(q) - 1] * 1000, 2)
    return {"requests": requests, "fact_p50_ms": p(fact, 50), "fact_p99_ms": p(fact, 99),
            "subject_p50_ms": p(subj, 50), "subject_p99_ms": p(subj, 99),
            "ratio_p50": round(p(subj, 50) / p(fact, 50), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both", "none"), default="both")
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (default: start a temporary server)")
    ap.add_argument("--http-requests", type=int, default=500)
    args = ap.parse_args()
    policy = load(SHOP)
    results = []
    timed_file = Path(tempfile.mkdtemp()) / "timed_shop.policy"
    timed_file.write_text(SHOP.read_text(encoding="utf-8") + TIMED_RULES, encoding="utf-8")
    timed = load(timed_file)
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend in ("sqlite", "both"):
            results.append(bench_sweep(os.path.join(tmp, "bench.sqlite3"), args.subjects, policy, timed))
            print(json.dumps(results[-1]), flush=True)
        if args.backend in ("postgresql", "both"):
            if args.pg_url:
                results.append(bench_sweep(args.pg_url, args.subjects, policy, timed))
            else:
                from tests.subjects.pg import postgres_server
                with postgres_server() as url:
                    results.append(bench_sweep(url, args.subjects, policy, timed))
            print(json.dumps(results[-1]), flush=True)
        if args.http_requests:
            print(json.dumps(bench_http(Path(tmp), args.http_requests)), flush=True)


if __name__ == "__main__":
    main()
