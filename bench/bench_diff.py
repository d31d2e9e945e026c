"""Diff timing on a generated 10,000-rule policy.

    .venv/bin/python bench/bench_diff.py [--rules N] [--repeat R] [--dense]

The policy is shaped like a real one, scaled up: a three-level vocabulary, mostly allows that
name their data, source and purpose, a tenth of them denies, a third conditional (consents)
(`--dense` uses bench/generate.py instead, the engine benchmark's policy, where every question
matches dozens of broad rules). Edits, each diffed against the original: a consent condition
deleted from an allow (the widening CI must catch), a deny deleted, a rule's data widened to
all data, and the unchanged policy. Reported: the time to load (parse, check, compile) a
policy, and the time of `semantic_diff` itself, best of R.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random  # noqa: E402

from generate import generate as generate_dense  # noqa: E402

from policy_engine.guard.diff import semantic_diff  # noqa: E402
from policy_engine.engine.loader import load_text  # noqa: E402


def generate(rules: int, seed: int = 7) -> str:
    """A sparse, realistic policy of `rules` rules."""
    rng = random.Random(seed)
    per = max(6, int(rules ** 0.5) // 2)
    vocab: dict[str, list[str]] = {}
    for kind, prefix in (("data", "d"), ("source", "s"), ("purpose", "p"), ("recipient", "r")):
        ids = []
        for a in range(per):
            ids.append(f"{prefix}{a}")
            for b in range(3):
                ids.append(f"{prefix}{a}.k{b}")
                ids.append(f"{prefix}{a}.k{b}.x")
        vocab[kind] = ids
    facts = [f"consent{i}" for i in range(10)] + ["legal", "request"]
    out = [f'policy "Generated {rules}"', ""]
    for kind, ids in vocab.items():
        out += [f'{kind} {i} "{kind} {i}"' for i in ids] + [""]
    out += [f'fact {f} "{f}"' for f in facts] + [""]
    for n in range(rules):
        if n % 50 == 0:
            out.append(f'section "Section {n // 50 + 1}":')
        action = rng.choice(("collect", "use", "use", "share", "retain"))
        data = ", ".join(rng.sample(vocab["data"], rng.randint(1, 3)))
        if rng.random() < 0.1:
            line = f"  deny {action} of {data}"
            if rng.random() < 0.7:
                line += " from " + rng.choice(vocab["source"])
            line += " for " + rng.choice(vocab["purpose"])
            if rng.random() < 0.5:
                line += f" if not {rng.choice(facts)}"
        else:
            line = f"  allow {action} of {data} from " + ", ".join(rng.sample(vocab["source"], rng.randint(1, 2)))
            if action != "collect" or rng.random() < 0.5:
                line += " for " + ", ".join(rng.sample(vocab["purpose"], rng.randint(1, 2)))
            if action == "share" or rng.random() < 0.1:
                line += " with " + rng.choice(vocab["recipient"])
            if rng.random() < 0.33:
                line += f" if {rng.choice(facts)}" + (f" or {rng.choice(facts)}" if rng.random() < 0.3 else "")
                line += " basis consent"
            else:
                line += " basis " + rng.choice(("contract", "legitimate_interests", "legal_obligation"))
        out.append(line)
    return "\n".join(out) + "\n"


def widens(old, line_no: int) -> bool:  # type: ignore[no-untyped-def]
    """Whether deleting the condition of the allow on `line_no` changes the answer to the question
    made of its first terms (facts unknown), computed on the old policy's own index."""
    from policy_engine.language import logic
    from policy_engine.engine.compiler import bits

    rule = next(r for r in old.compiled.rules if r.line == line_no)
    terms = old.compiled.vocabulary.terms
    # a dimension the rule leaves open: some declared term (leaving it out would let every deny
    # that constrains it match, fail closed)
    q = {dim: (rule.terms(dim) or (next(iter(terms[dim])),))[0] for dim in ("data", "source", "purpose", "recipient")}
    match = old.compiled.index.match(rule.action, q["data"], q["source"], q["purpose"], q["recipient"])
    rules = [old.compiled.rules[i] for i in bits(match)]
    before = logic.requirement([r.condition for r in rules if r.effect == "allow"],
                               [r.condition for r in rules if r.effect == "deny"])
    after = logic.requirement([None if r is rule else r.condition for r in rules if r.effect == "allow"],
                              [r.condition for r in rules if r.effect == "deny"])
    return before != after


def edits(text: str, old) -> dict[str, str]:  # type: ignore[no-untyped-def]
    lines = text.split("\n")
    cond = next((i for i, l in enumerate(lines) if l.startswith("  allow ") and " if " in l and widens(old, i + 1)),
                next(i for i, l in enumerate(lines) if l.startswith("  allow ") and " if " in l))
    deny = next(i for i, l in enumerate(lines) if l.startswith("  deny "))
    widen = next(i for i, l in enumerate(lines) if l.startswith("  allow ") and " of all data" not in l
                 and " if " not in l and i > len(lines) // 2)

    def edit(i: int, line: str) -> str:
        out = list(lines)
        out[i] = line
        return "\n".join(out)

    return {
        "consent condition deleted": edit(cond, re.sub(r" if .*?( basis \w+)?$", r"\1", lines[cond])),
        "deny deleted": edit(deny, ""),
        "allow widened to all data": edit(widen, re.sub(r" of [\w.]+(, [\w.]+)*", " of all data", lines[widen], 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dense", action="store_true", help="bench/generate.py's policy instead")
    args = parser.parse_args()
    text = generate_dense(args.rules) if args.dense else generate(args.rules)
    t = time.perf_counter()
    old = load_text(text, "generated.policy")
    load_s = time.perf_counter() - t
    counts = old.compiled.vocabulary.counts() if old.compiled.vocabulary else {}
    print(f"policy: {len(old.compiled.rules)} rules, terms {counts}; load (parse+check+compile): {load_s:.2f} s")
    for name, changed in edits(text, old).items():
        new = load_text(changed, "generated.policy")
        edited = next(a for a, b in zip(text.split("\n"), changed.split("\n")) if a != b)
        print(f"  edit: {edited.strip()}")
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = semantic_diff(old, new)
            best = min(best, time.perf_counter() - t)
        print(f"{name:34s} diff {best * 1000:8.1f} ms  ({len(result.groups)} groups, "
              f"{result.widened} widened, {result.narrowed} narrowed questions)")
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        same = semantic_diff(old, old)
        best = min(best, time.perf_counter() - t)
    print(f"{'unchanged policy':34s} diff {best * 1000:8.1f} ms  ({len(same.groups)} groups)")


if __name__ == "__main__":
    main()
