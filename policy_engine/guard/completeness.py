"""Completeness against GDPR Art. 13/14: which items a privacy notice must give does the policy
not state? In: a loaded Policy (its tree, source and engine). Out: lint Findings
with codes `art13.*` (warnings), which `lint --completeness` adds to the lint run.

Each item is checked on what the policy states, computed by the engine where it is about
processing (the purposes and their legal bases come from the record of processing,
render.ropa). Some items cannot be stated in today's policy language (a DPO, transfers to
third countries, automated decision-making, the legitimate interests themselves): their
finding says so, so a reader knows the published text must carry them.
"""

from __future__ import annotations

from typing import Any

from policy_engine.language import ast
from policy_engine.language.diagnostics import Diagnostic, Severity
from policy_engine.engine.policy import Policy
from policy_engine.language.source import Span

CANNOT = "the policy language has no statement for it yet: make sure the published text gives it"

CODES: dict[str, str] = {
    "art13.controller": "GDPR Art. 13(1)(a): the policy does not name the controller.",
    "art13.contact": "GDPR Art. 13(1)(a): the policy gives no contact details of the controller.",
    "art13.dpo": "GDPR Art. 13(1)(b): the contact details of the data protection officer are not stated.",
    "art13.purpose_basis": "GDPR Art. 13(1)(c): a purpose is allowed without a legal basis.",
    "art13.legitimate_interests": "GDPR Art. 13(1)(d): the legitimate interests pursued are not stated.",
    "art13.recipients": "GDPR Art. 13(1)(e): the policy names no recipient of personal data.",
    "art13.transfers": "GDPR Art. 13(1)(f): transfers to third countries and their safeguards are not stated.",
    "art13.retention": "GDPR Art. 13(2)(a): the policy says nowhere how long data is kept.",
    "art13.right": "GDPR Art. 13(2)(b): a right of the data subject is not stated.",
    "art13.withdraw_consent": "GDPR Art. 13(2)(c): processing relies on consent, but withdrawing it is not stated.",
    "art13.complaint": "GDPR Art. 13(2)(d): the right to lodge a complaint with an authority is not stated.",
    "art13.automated_decisions": "GDPR Art. 13(2)(f): automated decision-making, including profiling, is not "
                                 "stated.",
}

# Art. 15-18, 20, 21: the rights a notice must name
RIGHTS: tuple[tuple[str, str], ...] = (
    ("access", "Art. 15"), ("rectification", "Art. 16"), ("erasure", "Art. 17"), ("restriction", "Art. 18"),
    ("portability", "Art. 20"), ("objection", "Art. 21"),
)


def findings(policy: Policy) -> list[Any]:
    """The Art. 13/14 findings of one loaded policy."""
    from policy_engine.guard.lint import Finding  # lint runs this module: imported when called
    from policy_engine.render.ropa import record

    tree, source = policy.tree, policy.source

    header: Span | None = tree.meta.span if tree.meta is not None else None
    out: list[Finding] = []

    def add(code: str, message: str, span: Span | None, help: str) -> None:
        out.append(Finding(Diagnostic(code, message, source, span, help, Severity.WARNING)))

    meta = tree.meta
    if meta is None or not meta.controller:
        add("art13.controller", "the policy does not name the controller (GDPR Art. 13(1)(a))", header,
            'add `controller "NAME, ADDRESS"` under the `policy "..."` line')
    if meta is None or not meta.contact:
        add("art13.contact", "the policy gives no contact details of the controller (GDPR Art. 13(1)(a))", header,
            'add `contact "privacy@..."` under the `policy "..."` line')
    said = {entry["statement"] for entry in policy.statements().get("statements", [])}  # statements that decide nothing
    if "dpo" not in said:
        add("art13.dpo", "the contact details of the data protection officer (GDPR Art. 13(1)(b)) are not stated",
            header, 'add `dpo "HOW TO REACH THEM"` in the section that names the officer, or say in the '
            "published text that there is none")

    rules = tree.rules()
    declared = {t.id: t for t in tree.terms if t.kind == "purpose"}
    for activity in record(policy).activities:
        if activity.legal_basis == ["not stated"]:
            decl = declared.get(activity.purpose_id)
            add("art13.purpose_basis", f"purpose `{activity.purpose_id}` is allowed without a legal basis "
                "(GDPR Art. 13(1)(c) asks for the purposes with their legal bases)",
                decl.id_span if decl is not None else header,
                f"add `basis ...` to the rules allowing `{activity.purpose_id}` (policy lines "
                f"{', '.join(map(str, activity.rules))})")
    interests = [(s, r) for s, r in rules if r.effect == "allow" and r.basis and r.basis.id == "legitimate_interests"]
    if interests:
        purposes = sorted({p.id for _, r in interests for p in r.purposes})
        add("art13.legitimate_interests", "rules rely on legitimate interests, but the interests pursued "
            f"(GDPR Art. 13(1)(d)) are not stated: {CANNOT}", interests[0][1].span,
            "state in the published text the interest behind each of: " + ", ".join(f"`{p}`" for p in purposes))
    if not any(r.effect == "allow" and r.action == "share" for _, r in rules):
        add("art13.recipients", "no rule shares personal data with anyone: the policy names no recipients "
            "(GDPR Art. 13(1)(e))", header, "if data is disclosed, add `allow share of ... with RECIPIENT` rules; "
            "if it never is, say so in the published text")
    if not any(r.effect == "allow" and r.destinations for _, r in rules):
        add("art13.transfers", "transfers to third countries and their safeguards (GDPR Art. 13(1)(f)) are not "
            "stated", header, "if data leaves the EEA, add `allow share of ... with RECIPIENT in REGION under "
            "SAFEGUARD` (adequacy decision, standard contractual clauses, ...); if it never does, say so in the "
            "published text")

    items = [item for s in tree.sections for item in s.items]
    if not any(isinstance(i, ast.Retention) for i in items):
        add("art13.retention", "the policy says nowhere how long personal data is kept (GDPR Art. 13(2)(a))",
            header, 'add `retention of DATA: "PERIOD"` (or `retention of all data: "..."`) in the section that '
            "states it")
    stated = {i.right.id for i in items if isinstance(i, ast.Right)}
    for right, article in RIGHTS:
        if right not in stated:
            add("art13.right", f"the right of {right} ({article}; GDPR Art. 13(2)(b)) is not stated", header,
                f'add `right {right} via "HOW"` in the section that states it')
    if "withdraw_consent" not in stated and any(r.basis and r.basis.id == "consent" for _, r in rules):
        first = next(r for _, r in rules if r.basis and r.basis.id == "consent")
        partly = " (`right unsubscribe` covers newsletters only)" if "unsubscribe" in stated else ""
        add("art13.withdraw_consent", "processing relies on consent, but the right to withdraw it at any time "
            f"(GDPR Art. 13(2)(c)) is not stated{partly}", first.span, 'add `right withdraw_consent via "HOW"`')
    if "complaint" not in stated and "authority" not in said:
        add("art13.complaint", "the right to lodge a complaint with a supervisory authority (GDPR Art. 13(2)(d)) "
            "is not stated", header, 'add `right complaint via "THE AUTHORITY"` or `authority "THE AUTHORITY"`')
    add("art13.automated_decisions", "whether there is automated decision-making, including profiling "
        f"(GDPR Art. 13(2)(f)), is not stated: {CANNOT}", header,
        "say in the published text whether decisions are automated, and if so the logic and its consequences")
    return out
