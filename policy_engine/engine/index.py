"""The decision index: bitsets over the rule table (a Python int, bit i = rule i), so a decision
is a few ANDs of ints and never walks the graph. In: the vocabulary and the rule table. Out:
DecisionIndex; `bits` and `bitset` convert between bitsets and rule indices for every caller.

Per action (the four and the declared sub-actions), the rules on it or on an action it refines.
Per dimension and term, the rules that match a query naming that term (its ancestors and the
rules open on the dimension included); for a dimension the query leaves out, the rules open there
plus the denies that constrain it (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from policy_engine.language import ast

if TYPE_CHECKING:
    from policy_engine.engine.compiler import CompiledRule
    from policy_engine.engine.vocabulary import Vocabulary

# The four dimensions of docs/semantics.md, and a transfer's destination (engine/transfers.py), whose terms are regions
DIMENSIONS: tuple[str, ...] = (*ast.DIMENSIONS, ast.DESTINATION)



@dataclass(frozen=True)
class DecisionIndex:
    """Bitsets over the rule table. `dims[dim][term]`: the rules matching a query that names
    `term` on `dim`; `dims[dim][None]`: those matching a query that leaves `dim` out."""

    actions: Mapping[str, int]
    dims: Mapping[str, Mapping[str | None, int]]
    allows: int
    denies: int
    transfers: bool = False  # some rule names a destination; without any, every rule is open on it

    def match(self, action: str, data: str, source: str | None, purpose: str | None, recipient: str | None,
              destination: str | None = None) -> int:
        dims = self.dims
        m = (self.actions[action] & dims["data"][data] & dims["source"][source] & dims["purpose"][purpose]
             & dims["recipient"][recipient])
        if self.transfers:
            m &= dims["destination"][destination]
        return m


_BYTE_BITS = tuple(tuple(i for i in range(8) if b >> i & 1) for b in range(256))
_NONZERO = bytes([0] + [1] * 255)
_WIDE = 4096  # above this many bits, scan bytes instead of peeling bits off a wide int


def bits(m: int) -> list[int]:
    """The rule indices in a bitset, lowest first. Peeling the lowest bit costs a pass over the
    whole int per rule found; for wide sets the bytes are scanned once instead."""
    out: list[int] = []
    if m.bit_length() <= _WIDE:
        while m:
            low = m & -m
            out.append(low.bit_length() - 1)
            m ^= low
        return out
    raw = m.to_bytes((m.bit_length() + 7) >> 3, "little")
    find = raw.translate(_NONZERO).find
    pos = find(1)
    while pos >= 0:
        base = pos << 3
        for i in _BYTE_BITS[raw[pos]]:
            out.append(base + i)
        pos = find(1, pos + 1)
    return out


def bitset(indices: Iterable[int], size: int | None = None) -> int:
    """The bitset of rule indices; `size` (the rule count) lets a wide set be built in one pass."""
    indices = list(indices)
    if not indices:
        return 0
    buf = bytearray(((size if size is not None else max(indices) + 1) + 7) // 8)
    for i in indices:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def open_on(rules: Sequence[CompiledRule], dim: str) -> int:
    """The rules that leave `dim` open (match any term, or none)."""
    return bitset((r.index for r in rules if not r.terms(dim)), len(rules))


def build_index(vocabulary: Vocabulary, rules: Sequence[CompiledRule]) -> DecisionIndex:
    n = len(rules)
    # a question about an action matches the rules on it and on the actions it refines (a rule on
    # `share` covers `share.sell`; a rule on `share.sell` does not cover `share`)
    actions = {a: bitset([r.index for r in rules if r.action in vocabulary.ancestors[("action", a)]], n)
               for a in (*ast.ACTIONS, *vocabulary.terms["action"])}
    denies = bitset([r.index for r in rules if r.effect == "deny"], n)
    allows = bitset([r.index for r in rules if r.effect == "allow"], n)
    dims: dict[str, Mapping[str | None, int]] = {}
    for dim in DIMENSIONS:
        kind = ast.kind_of(dim)
        named: dict[str, list[int]] = {}
        open_rules: list[int] = []
        for rule in rules:
            terms = rule.terms(dim)
            if not terms:  # () open, None all data
                open_rules.append(rule.index)
            else:
                for t in terms:
                    named.setdefault(t, []).append(rule.index)
        open_bits = bitset(open_rules, n)
        named_bits = {t: bitset(idx, n) for t, idx in named.items()}
        table: dict[str | None, int] = {}
        for term_id in vocabulary.terms[kind]:
            m = open_bits
            for a in vocabulary.ancestors[(kind, term_id)]:
                m |= named_bits.get(a, 0)
            table[term_id] = m
        constrained = 0
        for b in named_bits.values():
            constrained |= b
        table[None] = open_bits | (constrained & denies)  # fail closed: a deny matches a missing dimension
        dims[dim] = MappingProxyType(table)
    transfers = any(r.destinations for r in rules)
    return DecisionIndex(MappingProxyType(actions), MappingProxyType(dims), allows, denies, transfers)


