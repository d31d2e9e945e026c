"""Replay timing on a generated decision log of real-shaped rows (target: 1,000,000 rows <= 30 s).

    .venv/bin/python bench/bench_replay.py [--rows N] [--log PATH] [--keep] [--policy NEW] [--report]

The log is written in the layout `serve` writes (server/decision_log.py: `answers` + `decisions`,
WAL mode), with answers the Open-E policy really gives: a pool of questions a web shop's
services ask (every action with the dimensions it needs, terms drawn from the policy's
vocabulary; seven in ten with the facts the service knows, the rest with facts unknown) is
sampled with Zipf weights (a few questions make most of the traffic, as in real services;
`--pool` sets how many distinct questions there are),
spread over the seven days before now, with a latency of tens of microseconds each.

Replayed under NEW (default: the widening edit `widening_edit` below: a business partner gets
contact details without a prior inquiry) with `guard.replay.replay`, the same code as
`policy-engine replay`. Reported: the time to write the log (not part of the target), the
time to replay it, and the counts; `--report` prints the text report too.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine import api  # noqa: E402
from policy_engine.guard.replay import replay  # noqa: E402
from policy_engine.guard.replay_report import render_text  # noqa: E402
from policy_engine.server.decision_log import QueryText, open_db  # noqa: E402
from policy_engine.server.encode import Encoder  # noqa: E402

POLICY = ROOT / "policies" / "open_e.policy"
NEEDS = {"collect": "source", "use": "purpose", "share": "recipient", "retain": "purpose"}
ACTION_WEIGHTS = {"use": 50, "share": 25, "collect": 15, "retain": 10}


def widening_edit(text: str) -> str:
    """Business partners receive contact details without the person's inquiry (the condition
    and the expectations that asserted it deleted, as a pull request would)."""
    edited = text.replace("    with business_partner\n    if partner_inquiry\n", "    with business_partner\n", 1)
    edited = edited.replace("  expect conditional: share of email with business_partner\n"
                            "    requires partner_inquiry\n", "", 1)
    edited = edited.replace("  no share with business_partner unless partner_inquiry\n", "", 1)
    if edited == text:
        raise SystemExit("bench_replay: the business-partner rule of open_e.policy changed; update widening_edit")
    return edited


def question_pool(policy: api.Policy, size: int, rng: random.Random) -> list[dict]:
    vocab = {kind: [t["id"] for t in terms] for kind, terms in policy.vocabulary().items()}
    pool: dict[str, dict] = {}
    text = QueryText()
    actions = list(ACTION_WEIGHTS)
    for _ in range(size * 20):
        if len(pool) >= size:
            break
        action = rng.choices(actions, [ACTION_WEIGHTS[a] for a in actions])[0]
        q: dict = {"action": action, "data": rng.choice(vocab["data"])}
        q[NEEDS[action]] = rng.choice(vocab[NEEDS[action]])
        if action == "use" and rng.random() < 0.6:
            q["source"] = rng.choice(vocab["source"])
        if rng.random() < 0.7:
            q["facts"] = sorted(rng.sample(vocab["fact"], rng.choice([0, 1, 1, 2, 3])))
        pool.setdefault(text(q), q)
    return list(pool.values())


def write_log(path: Path, rows: int, pool_size: int = 4000, seed: int = 14) -> float:
    """Write `rows` real-shaped decisions to a new log at `path`; returns the seconds it took."""
    start = time.perf_counter()
    rng = random.Random(seed)
    policy = api.load(POLICY)
    pool = question_pool(policy, pool_size, rng)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(pool))]
    encode, text = Encoder(), QueryText()
    answers = []
    for q in pool:
        enc = encode(policy.decide(q))
        answers.append((text(q), enc))
    conn = open_db(path)
    with conn:
        conn.executemany("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                         {(e.key, e.label, e.requires, e.would_allow_if, e.rules, e.digest) for _, e in answers})
    now = time.time()
    week = 7 * 86400
    batch = 100_000
    for offset in range(0, rows, batch):
        n = min(batch, rows - offset)
        picks = rng.choices(range(len(pool)), weights, k=n)
        stamps = sorted(now - week + rng.random() * week for _ in range(n))
        with conn:
            conn.executemany("INSERT INTO decisions (ts, query, answer, latency_us) VALUES (?, ?, ?, ?)",
                             [(ts, answers[i][0], answers[i][1].key, round(rng.uniform(8, 90), 3))
                              for ts, i in zip(stamps, picks)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=4000, help="Distinct questions the services ask.")
    parser.add_argument("--log", type=Path, help="Write the log here (default: a temporary file).")
    parser.add_argument("--keep", action="store_true", help="Keep the log (with --log) for `policy-engine replay`.")
    parser.add_argument("--policy", type=Path, help="The new policy (default: the widening edit of open_e).")
    parser.add_argument("--report", action="store_true", help="Print the replay report too.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = args.log or Path(tmp) / "decisions.sqlite3"
        if log.exists():
            raise SystemExit(f"bench_replay: {log} exists; name a new file")
        took = write_log(log, args.rows, args.pool)
        print(f"wrote {args.rows:,} rows to {log} in {took:.1f} s ({log.stat().st_size / 1e6:.0f} MB)")
        if args.policy:
            new, name = api.load(args.policy), str(args.policy)
        else:
            new, name = api.loads(widening_edit(POLICY.read_text(encoding="utf-8")), "policies/open_e.policy"), \
                "policies/open_e.policy (widening edit)"
        start = time.perf_counter()
        result = replay(log, new, name)
        took = time.perf_counter() - start
        print(f"replayed {result.rows:,} rows ({result.questions:,} distinct questions) in {took:.2f} s: "
              f"{result.changed:,} changed, {result.widened:,} widened, {result.narrowed:,} narrowed, "
              f"{result.unanswerable_rows:,} unanswerable  (target: 1,000,000 rows <= 30 s)")
        if args.report:
            print()
            print(render_text(result))
        if args.log and not args.keep:
            log.unlink()


if __name__ == "__main__":
    main()
