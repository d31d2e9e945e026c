"""The record of processing activities (GDPR Art. 30(1)), computed from a loaded policy.

In: an engine Policy. Out: `Record` (one `Activity` per purpose), written as CSV, XLSX, HTML
or JSON by render.ropa_writers.

Every cell comes from the engine, never from re-reading the rules: the categories of data and
their sources are the data map's `uses` (allowed or conditional, with the deciding rules and
their legal bases), what is kept for the purpose is `decide` on `retain`, the recipients are
the data map's `recipients` of that data from those sources, and retention, security,
controller and contact are the policy's `statements()`. A row inherits what a broader purpose
allows (a rule on `marketing` is a use for `marketing.newsletter`).

Art. 30(1)(e) transfers to third countries with their safeguards are the allow rules that name a
destination (`in region.us under standard_contractual_clauses`) on the row's data, purpose and
recipients (render/ropa_transfers.py). Items the policy does not state (the categories of data
subjects, for which the sources stand in, a DPO, transfers) say so in words rather than stay empty.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from policy_engine.engine.policy import Policy
from policy_engine.render.ropa_transfers import transfers_cell
from policy_engine.render.sentences import labeled

NOT_STATABLE_TRANSFERS = "not stated: the policy states no transfer to a third country (`in REGION under SAFEGUARD`)"
NOT_STATED_DPO = "not stated: the policy names no data protection officer (`dpo \"...\"`)"
BASES = {"consent": "consent (Art. 6(1)(a))", "contract": "contract (Art. 6(1)(b))",
         "legal_obligation": "legal obligation (Art. 6(1)(c))", "vital_interests": "vital interests (Art. 6(1)(d))",
         "public_task": "public task (Art. 6(1)(e))", "legitimate_interests": "legitimate interests (Art. 6(1)(f))"}

# (key, column header) in the order of Art. 30(1)(a)-(g)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("purpose", "Purpose of the processing"),
    ("purpose_id", "Purpose id"),
    ("data_subjects", "Categories of data subjects (where the data is collected)"),
    ("data", "Categories of personal data"),
    ("legal_basis", "Legal basis (Art. 6)"),
    ("conditions", "Only if"),
    ("recipients", "Categories of recipients"),
    ("transfers", "Transfers to third countries and safeguards"),
    ("retention", "Time limits for erasure"),
    ("security", "Technical and organisational security measures"),
    ("controller", "Controller"),
    ("contact", "Contact"),
    ("dpo", "Data protection officer"),
    ("rules", "Policy lines"),
)


@dataclass
class Activity:
    """One purpose's row; list cells hold labels, in the policy's declaration order."""

    purpose: str
    purpose_id: str
    data_subjects: list[str]
    data: list[str]
    legal_basis: list[str]
    conditions: list[str]
    recipients: list[str]
    transfers: str
    retention: list[str]
    security: list[str]
    controller: str
    contact: str
    dpo: str
    rules: list[int] = field(default_factory=list)

    def cells(self) -> list[str]:
        """The row as text cells: lists joined by "; "."""
        out = []
        for key, _ in COLUMNS:
            value = getattr(self, key)
            out.append("; ".join(str(v) for v in value) if isinstance(value, list) else str(value))
        return out


@dataclass
class Record:
    name: str
    digest: str
    activities: list[Activity]

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.name, "digest": self.digest, "article": "GDPR Art. 30(1)",
                "columns": [{"key": k, "header": h} for k, h in COLUMNS],
                "activities": [asdict(a) for a in self.activities]}


class _Labels:
    def __init__(self, policy: Policy):
        self.policy = policy

    def __call__(self, kind: str, term_id: str) -> str:
        term = self.policy.terms[kind].get(term_id)
        return term.label if term is not None else term_id

    def condition(self, text: str) -> str:
        """A requirement as the engine states it (`a or not b`), with each fact's label quoted."""
        return labeled(text, {f: t.label for f, t in self.policy.terms["fact"].items()})


def _ordered(kind: str, ids: set[str], policy: Policy) -> list[str]:
    return [t for t in policy.terms[kind] if t in ids]


def _grouped(kind: str, ids: set[str], policy: Policy, notes: dict[str, str] | None = None) -> list[str]:
    """Labels in declaration order; a term under one listed is left out (its parent covers it),
    and children of an unlisted parent read "Parent: child, child"."""
    notes = notes or {}
    terms = policy.terms[kind]
    kept = [t for t in _ordered(kind, ids, policy)
            if not any(t.startswith(o + ".") for o in ids if o != t and notes.get(o) == notes.get(t))]
    out: list[str] = []
    groups: dict[str, int] = {}
    for t in kept:
        text = terms[t].label + notes.get(t, "")
        parent = terms[t].parent
        if parent is not None and parent not in kept:
            if parent in groups:
                out[groups[parent]] += ", " + text
                continue
            groups[parent] = len(out)
            text = f"{terms[parent].label}: {text}"
        out.append(text)
    return out


def _covers(broad: str, narrow: str) -> bool:
    return narrow == broad or narrow.startswith(broad + ".")


@dataclass
class PurposeUse:
    """What the engine allows for one purpose, in term ids (the ROPA row and the DPV handling
    are both written from it). `recipients` maps each recipient to the requirement of sharing
    with it (None: unconditional); `conditions` are the requirements of the uses."""

    purpose: str
    used: set[str]
    kept: set[str]
    sources: set[str | None]
    bases: set[str]
    conditions: list[str]
    recipients: dict[str, str | None]
    lines: set[int]

    @property
    def data(self) -> set[str]:
        return self.used | self.kept


def processing(policy: Policy) -> list[PurposeUse]:
    """One PurposeUse per declared purpose the policy allows some use or retention for."""
    uses = {d: policy.uses(d) for d in policy.terms["data"]}
    shares = {d: policy.recipients(d) for d in policy.terms["data"]}
    out = []
    for purpose in policy.terms["purpose"]:
        row_of = PurposeUse(purpose, set(), set(), set(), set(), [], {}, set())
        for d, rows in uses.items():
            for row in rows:
                if row.purpose is None or not _covers(row.purpose, purpose):
                    continue
                row_of.used.add(d)
                row_of.sources.add(row.source)
                _note(row_of, row.decision, row.requires, row.reasons)
        for d in policy.terms["data"]:
            decision = policy.decide({"action": "retain", "data": d, "purpose": purpose})
            if decision.decision != "deny":
                row_of.kept.add(d)
                _note(row_of, decision.decision, decision.requires, decision.reasons)
        if not row_of.data:
            continue
        for d in row_of.data:
            for row in shares[d]:
                if row.recipient is None or not (row.source is None or row.source in row_of.sources):
                    continue
                if row.purpose is not None and not _covers(row.purpose, purpose):
                    continue
                requires = row.requires if row.decision == "conditional" else None
                if row.recipient not in row_of.recipients or requires is None:
                    row_of.recipients[row.recipient] = requires
        out.append(row_of)
    return out


def _note(row: PurposeUse, decision: str, requires: str | None, reasons: Any) -> None:
    row.bases.update(r.basis for r in reasons if r.effect == "allow" and r.basis)
    row.lines.update(r.line for r in reasons)
    if decision == "conditional" and requires and requires not in row.conditions:
        row.conditions.append(requires)


def record(policy: Policy) -> Record:
    """One activity per declared purpose the policy allows some processing for."""
    label = _Labels(policy)
    stated = policy.statements()
    meta = policy.metadata
    security = [m for s in stated["security"] for m in s["measures"]]
    dpo = "; ".join(s["text"] for s in stated.get("statements", []) if s["statement"] == "dpo") or NOT_STATED_DPO
    activities = []
    for use in processing(policy):
        retention = [f"{'all personal data' if r['data'] is None else ', '.join(label('data', x) for x in r['data'])}: "
                     f"{r['period']}" for r in stated["retention"]
                     if r["data"] is None or any(_covers(x, d) for x in r["data"] for d in use.data)]
        sources = use.sources
        subjects = (["any source"] if None in sources else []) + _grouped("source", {s for s in sources if s}, policy)
        only_if = {r: f" (only if {label.condition(req)})" for r, req in use.recipients.items() if req}
        activities.append(Activity(
            purpose=label("purpose", use.purpose), purpose_id=use.purpose,
            data_subjects=subjects or ["not stated"],
            data=_grouped("data", use.data, policy, {d: " (kept only)" for d in use.kept - use.used}),
            legal_basis=[BASES.get(b, b) for b in sorted(use.bases)] or ["not stated"],
            conditions=[label.condition(c) for c in use.conditions],
            recipients=_grouped("recipient", set(use.recipients), policy, only_if),
            transfers=transfers_cell(policy, use.purpose, use.data) or NOT_STATABLE_TRANSFERS,
            retention=retention or ["not stated"],
            security=security or ["not stated"],
            controller=meta.get("controller") or "not stated",
            contact=meta.get("contact") or "not stated",
            dpo=dpo,
            rules=sorted(use.lines)))
    return Record(policy.name, policy.digest, activities)
