"""Synthetic policies for the benchmark. In: a rule count and a seed. Out: policy text.

The vocabulary grows with the rule count (hierarchies three levels deep), rules mix allows and
denies over one to three terms per dimension, and a third of them carry a condition over a few
of the declared facts, so the engine's index and its condition logic are both exercised.
"""

from __future__ import annotations

import random

KINDS = ("data", "source", "purpose", "recipient")
ACTIONS = ("collect", "use", "share", "retain")
BASES = ("consent", "contract", "legal_obligation", "legitimate_interests")


def vocabulary(rules: int, rng: random.Random) -> dict[str, list[str]]:
    """Term ids per kind: roots, children and grandchildren (every parent declared)."""
    per_kind = max(8, rules // 20)
    vocab: dict[str, list[str]] = {}
    for kind in KINDS:
        ids: list[str] = []
        roots = max(3, per_kind // 7)
        for r in range(roots):
            root = f"{kind[0]}{r}"
            ids.append(root)
            for c in range(2):
                child = f"{root}.c{c}"
                ids.append(child)
                for g in range(2):
                    ids.append(f"{child}.g{g}")
        vocab[kind] = ids[:per_kind] if len(ids) > per_kind else ids
        # keep every kept id's parent
        kept = set(vocab[kind])
        vocab[kind] = [i for i in ids if i in kept or any(k.startswith(i + ".") for k in kept)]
    vocab["fact"] = [f"fact{i}" for i in range(12)]
    return vocab


def condition(rng: random.Random, facts: list[str]) -> str:
    picked = rng.sample(facts, rng.randint(1, 3))
    words = [("not " if rng.random() < 0.25 else "") + f for f in picked]
    if len(words) == 1:
        return words[0]
    joiner = rng.choice([" or ", " and "])
    return joiner.join(words)


def generate(rules: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    vocab = vocabulary(rules, rng)
    out = [f'policy "Generated {rules}"', ""]
    for kind, ids in vocab.items():
        for i in ids:
            out.append(f'{kind} {i} "{kind} {i}"')
    out.append("")
    per_section = 50
    for start in range(0, rules, per_section):
        out.append(f'section "Section {start // per_section + 1}":')
        for _ in range(min(per_section, rules - start)):
            effect = "deny" if rng.random() < 0.2 else "allow"
            action = rng.choice(ACTIONS)
            data = "all data" if rng.random() < 0.05 else ", ".join(rng.sample(vocab["data"], rng.randint(1, 3)))
            text = f"  {effect} {action} of {data}"
            for kind, word, p in (("source", "from", 0.6), ("purpose", "for", 0.7), ("recipient", "with", 0.3)):
                if rng.random() < p:
                    text += f" {word} " + ", ".join(rng.sample(vocab[kind], rng.randint(1, 3)))
            if rng.random() < 0.33:
                text += " if " + condition(rng, vocab["fact"])
            if effect == "allow" and rng.random() < 0.5:
                text += " basis " + rng.choice(BASES)
            out.append(text)
        out.append("")
    return "\n".join(out)


def queries(text_rules: int, count: int, seed: int = 2) -> list[dict]:
    """Valid queries over the same vocabulary as generate(text_rules): every action names the
    dimension it requires; half give facts, half leave them unknown."""
    rng = random.Random(seed)
    vocab = vocabulary(text_rules, random.Random(1))
    need = {"collect": "source", "use": "purpose", "share": "recipient", "retain": "purpose"}
    out = []
    for _ in range(count):
        action = rng.choice(ACTIONS)
        q: dict = {"action": action, "data": rng.choice(vocab["data"])}
        for kind in ("source", "purpose", "recipient"):
            if kind == need[action] or rng.random() < 0.4:
                q[kind] = rng.choice(vocab[kind])
        if rng.random() < 0.5:
            q["facts"] = rng.sample(vocab["fact"], rng.randint(0, 3))
        out.append(q)
    return out
