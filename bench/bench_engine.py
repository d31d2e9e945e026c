"""Engine benchmark: one run, one table. `python bench/bench_engine.py [--quick]`

Rows: policy-engine on the Open-E policy and on generated policies of 100, 1,000 and 10,000
rules (bench/generate.py); beside them, in the same run and on the same Open-E queries, a
plain dict lookup keyed by the query's fields (the floor) and cedarpy (Cedar's Rust engine)
on a Cedar encoding of Open-E (made here from the compiled rules), checked first to agree
with policy-engine on allow/deny for every closed-world query (Cedar has no partial answers).

Columns: load = read + parse + check + compile; compile = compile alone (from the checked
AST); peak MB by tracemalloc (Python allocations; Cedar's Rust heap is invisible to it);
warm = repeated questions, each call timed alone (p50 / p99, timer overhead included);
cold = the first time each question is asked of a fresh policy (no memo); decide_many =
throughput on a batch of repeated questions. Ratios at the bottom come from this same run.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import policy_engine  # noqa: E402
from generate import generate, queries as generated_queries  # noqa: E402
from policy_engine import api  # noqa: E402
from policy_engine.language import ast
from policy_engine.engine.compiler import CompiledPolicy, compile_policy  # noqa: E402
from policy_engine.engine.policy import Policy  # noqa: E402

OPEN_E = REPO / "policies" / "open_e.policy"


# ---- queries ---------------------------------------------------------------------------------


def open_e_queries(policy: Policy, count: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    terms = {kind: list(ids) for kind, ids in policy.terms.items()}
    out = []
    for _ in range(count):
        action = rng.choice(ast.ACTIONS)
        q: dict[str, Any] = {"action": action, "data": rng.choice(terms["data"])}
        needed = ast.REQUIRED_DIMENSION.get(action, "purpose")
        for kind in ("source", "purpose", "recipient"):
            if kind == needed or rng.random() < 0.4:
                q[kind] = rng.choice(terms[kind])
        if rng.random() < 0.6:
            q["facts"] = rng.sample(terms["fact"], rng.randint(0, 3))
        out.append(q)
    return out


# ---- timing ----------------------------------------------------------------------------------


def per_call(fn: Callable[[Any], Any], items: list[Any], samples: int) -> tuple[float, float]:
    """p50 and p99 in microseconds of single calls, cycling through the items."""
    clock = time.perf_counter_ns
    times = []
    n = len(items)
    for i in range(samples):
        item = items[i % n]
        t0 = clock()
        fn(item)
        times.append(clock() - t0)
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def interleaved_warm(rows: list[dict[str, Any]], samples: int, rounds: int = 20) -> None:
    """Warm p50/p99 for every row that has a `_warm` (fn, queries), timed in interleaved rounds:
    the machine is shared and its speed drifts over a run, so each row gets a slice of every
    phase instead of one phase of its own (the ratios between rows are what the targets use)."""
    timed = [r for r in rows if "_warm" in r]
    pooled: list[list[int]] = [[] for _ in timed]
    clock = time.perf_counter_ns
    per_round = max(1, samples // rounds)
    for k in range(rounds):
        for row, times in zip(timed, pooled):
            fn, items = row["_warm"]
            n = len(items)
            for i in range(k * per_round, (k + 1) * per_round):
                item = items[i % n]
                t0 = clock()
                fn(item)
                times.append(clock() - t0)
    for row, times in zip(timed, pooled):
        times.sort()
        row["warm_p50"], row["warm_p99"] = times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def compile_only(source_text: str, path: str) -> Callable[[], Policy]:
    checked = api.check_text(source_text, path)
    assert checked.ok and checked.policy is not None and checked.source is not None
    digest = "sha256:" + hashlib.sha256(source_text.encode()).hexdigest()

    def run() -> Policy:
        gc.disable()
        try:
            return Policy(compile_policy(checked.policy, checked.source), digest)  # type: ignore[arg-type]
        finally:
            gc.enable()

    return run


# ---- one policy -------------------------------------------------------------------------------


def measure(label: str, text: str, path: str, load: Callable[[], Policy], qs: list[dict[str, Any]],
            samples: int, repeat: int) -> dict[str, Any]:
    policy = load()
    row: dict[str, Any] = {"engine": "policy-engine", "policy": label, "rules": policy.rule_count}
    row["load_s"] = best_time(load, repeat)
    compile_run = compile_only(text, path)
    row["compile_s"] = best_time(compile_run, repeat)
    row["load_mb"] = peak_mb(load)
    row["compile_mb"] = peak_mb(compile_run)

    fresh = compile_run()  # empty memos: every first question takes the whole path
    clock = time.perf_counter_ns
    cold = []
    for q in qs:
        t0 = clock()
        fresh.decide(q)
        cold.append(clock() - t0)
    row["cold_p50"] = statistics.median(cold) / 1000

    for q in qs:  # warm up (the warm latency itself is timed later, interleaved with the other rows)
        policy.decide(q)
    row["_warm"] = (policy.decide, qs)
    batch = (qs * (200_000 // len(qs) + 1))[:200_000]
    policy.decide_many(batch)
    row["many_per_s"] = len(batch) / best_time(lambda: policy.decide_many(batch), 3)
    row["_policy"] = policy
    return row


# ---- the floor: a dict lookup keyed by the query ------------------------------------------------------


def dict_key(q: dict[str, Any]) -> tuple[Any, ...]:
    f = q.get("facts")
    return (q["action"], q["data"], q.get("source"), q.get("purpose"), q.get("recipient"),
            None if f is None else tuple(f))


def measure_dict(policy: Policy, qs: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    table = {dict_key(q): policy.decide(q) for q in qs}
    lookup = table.__getitem__
    row: dict[str, Any] = {"engine": "dict lookup (floor)", "policy": "Open-E answers", "rules": policy.rule_count}
    row["_warm"] = (lambda q: lookup(dict_key(q)), qs)
    batch = (qs * (200_000 // len(qs) + 1))[:200_000]
    row["many_per_s"] = len(batch) / best_time(lambda: [lookup(dict_key(q)) for q in batch], 3)
    return row


# ---- cedarpy on a Cedar encoding of the same rules --------------------------------------------------

ENTITY = {"data": "Data", "source": "Source", "purpose": "Purpose", "recipient": "Recipient"}


def _cedar_condition(cond: ast.Condition) -> str:
    if isinstance(cond, ast.FactRef):
        return f'context.facts.contains("{cond.name}")'
    if isinstance(cond, ast.Not):
        return f"!({_cedar_condition(cond.operand)})"
    joiner = " && " if isinstance(cond, ast.And) else " || "
    return "(" + joiner.join(_cedar_condition(o) for o in cond.operands) + ")"


def cedar_policies(compiled: CompiledPolicy) -> str:
    """One Cedar policy per rule: permit for allow, forbid for deny. A dimension the query leaves
    out is an absent context attribute: a permit needs it (`has`), a forbid fails closed."""
    out = []
    for r in compiled.rules:
        conds = []
        if r.data is not None:
            conds.append("resource in [" + ", ".join(f'Data::"{d}"' for d in r.data) + "]")
        for dim, terms in (("source", r.sources), ("purpose", r.purposes), ("recipient", r.recipients)):
            if not terms:
                continue
            inset = f"context.{dim} in [" + ", ".join(f'{ENTITY[dim]}::"{t}"' for t in terms) + "]"
            conds.append(f"context has {dim} && {inset}" if r.effect == "allow"
                         else f"!(context has {dim}) || {inset}")
        if r.condition is not None:
            conds.append(_cedar_condition(r.condition))
        effect = "permit" if r.effect == "allow" else "forbid"
        when = (" when { " + " && ".join(f"({c})" for c in conds) + " }") if conds else ""
        out.append(f'@id("rule{r.index}")\n{effect}(principal, action == Action::"{r.action}", resource){when};')
    return "\n".join(out) + "\n"


def cedar_entities(policy: Policy) -> list[dict[str, Any]]:
    ents = [{"uid": {"type": "App", "id": "service"}, "attrs": {}, "parents": []}]
    for kind, etype in ENTITY.items():
        for term in policy.terms[kind].values():
            parents = [] if term.parent is None else [{"type": etype, "id": term.parent}]
            ents.append({"uid": {"type": etype, "id": term.id}, "attrs": {}, "parents": parents})
    return ents


def cedar_request(q: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {"facts": list(q.get("facts") or [])}
    for dim in ("source", "purpose", "recipient"):
        if q.get(dim) is not None:
            context[dim] = {"__entity": {"type": ENTITY[dim], "id": q[dim]}}
    return {"principal": 'App::"service"', "action": f'Action::"{q["action"]}"',
            "resource": f'Data::"{q["data"]}"', "context": context}


def measure_cedar(policy: Policy, qs: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    import cedarpy

    text = cedar_policies(policy._compiled)
    entities_json = json.dumps(cedar_entities(policy))
    t0 = time.perf_counter()
    policy_set = cedarpy.PolicySet.from_str(text)  # parsed once and reused: Cedar at its best
    entities = cedarpy.Entities.from_json_str(entities_json)
    load_s = time.perf_counter() - t0

    closed = [q for q in qs if q.get("facts") is not None]
    requests = [cedar_request(q) for q in closed]
    results = cedarpy.is_authorized_batch(requests, policy_set, entities)
    disagree = [(q, r.decision) for q, r in zip(closed, results)
                if r.allowed != (policy.decide(q).decision == "allow")]
    if disagree:
        raise SystemExit(f"cedarpy disagrees with policy-engine on {len(disagree)} of {len(closed)} queries, "
                         f"e.g. {disagree[0]}")
    row: dict[str, Any] = {"engine": "cedarpy", "policy": "Open-E in Cedar", "rules": policy.rule_count,
                           "load_s": load_s, "agree": f"{len(closed)}/{len(closed)}"}
    row["warm_p50"], row["warm_p99"] = per_call(lambda r: cedarpy.is_authorized(r, policy_set, entities), requests,
                                                max(2_000, samples // 10))
    batch = (requests * (20_000 // len(requests) + 1))[:20_000]
    row["many_per_s"] = len(batch) / best_time(lambda: cedarpy.is_authorized_batch(batch, policy_set, entities), 1)
    return row


# ---- the table ----------------------------------------------------------------------------------------


COLUMNS = [("engine", "engine", "{}"), ("policy", "policy", "{}"), ("rules", "rules", "{:,}"),
           ("load_s", "load s", "{:.3f}"), ("compile_s", "compile s", "{:.3f}"), ("load_mb", "load peak MB", "{:.1f}"),
           ("compile_mb", "compile peak MB", "{:.1f}"), ("warm_p50", "warm p50 µs", "{:.2f}"),
           ("warm_p99", "warm p99 µs", "{:.2f}"), ("cold_p50", "cold p50 µs", "{:.1f}"),
           ("many_per_s", "decide_many /s", "{:,.0f}")]


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[title for _, title, _ in COLUMNS]]
    for row in rows:
        cells.append([fmt.format(row[key]) if row.get(key) is not None else "-" for key, _, fmt in COLUMNS])
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("| " + " | ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, no 10,000-rule policy")
    args = parser.parse_args()
    samples = 20_000 if args.quick else 100_000
    sizes = (100, 1_000) if args.quick else (100, 1_000, 10_000)

    rows = []
    open_e_text = OPEN_E.read_text(encoding="utf-8")
    probe = policy_engine.load(OPEN_E)
    open_e_qs = open_e_queries(probe, 1_000)
    rows.append(measure("Open-E", open_e_text, str(OPEN_E), lambda: policy_engine.load(OPEN_E), open_e_qs,
                        samples, 5))
    open_e = rows[0]["_policy"]
    for n in sizes:
        text = generate(n)
        rows.append(measure(f"generated {n:,}", text, f"gen{n}.policy",
                            lambda text=text, n=n: policy_engine.loads(text, f"gen{n}.policy"),
                            generated_queries(n, 1_000), samples, 1 if n >= 10_000 else 3))
    floor = measure_dict(open_e, open_e_qs, samples)
    cedar = measure_cedar(open_e, open_e_qs, samples)
    rows += [floor, cedar]
    interleaved_warm(rows, samples)

    print(f"policy-engine benchmark · Python {platform.python_version()} · {platform.machine()} · "
          f"{samples:,} timed single calls per row · queries: 1,000 per policy (half with facts)")
    print(table(rows))
    first, last = rows[1], rows[len(sizes)]
    print()
    print(f"targets: warm p50 on Open-E {rows[0]['warm_p50']:.2f} µs (≤ 5) · "
          f"{cedar['warm_p50'] / rows[0]['warm_p50']:.0f}x ahead of cedarpy (≥ 25x) · "
          f"{rows[0]['warm_p50'] / floor['warm_p50']:.1f}x the dict floor (≤ 5x) · "
          f"decide_many {rows[0]['many_per_s']:,.0f}/s (≥ 500,000)")
    print(f"         p50 {last['policy']} / {first['policy']}: warm {last['warm_p50'] / first['warm_p50']:.2f}x "
          f"(≤ 1.5x); cold {last['cold_p50'] / first['cold_p50']:.2f}x (first asks, no target) · "
          f"{last['policy']}: compile {last['compile_s']:.2f} s (< 2), compile peak {last['compile_mb']:.0f} MB "
          f"(< 200), whole load {last['load_s']:.2f} s / {last['load_mb']:.0f} MB")
    print(f"         cedarpy agrees on allow/deny for {cedar['agree']} closed-world Open-E queries")


if __name__ == "__main__":
    main()
