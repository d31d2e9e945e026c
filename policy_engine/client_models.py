"""The decision API's answers other than decisions, as typed models: what `Client` and
`AsyncClient` return for the policy, its terms, the data map and a reload. Apart from the client
so that code handling these answers does not need httpx.

Fields a newer server adds are kept (extra="allow"), not refused, so an older client keeps
working; `answer["field"]` reads a field too, as the client's earlier dict answers allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from policy_engine import Decision


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


class ServedDecision(Decision):
    """A decision as the server answers it: the library's Decision plus `decision_id`, the UUIDv7 of
    its row in the server's decision log (None from a server older than decision ids)."""

    decision_id: str | None = None

    def as_decision(self) -> Decision:
        """The library's Decision (without the id), to compare with `Policy.decide`."""
        return Decision.model_validate(self.model_dump(exclude={"decision_id"}))


class PolicySummary(_Model):
    name: str
    digest: str


class PolicyInfo(_Model):
    """GET /v1/policy: the policy being served."""
    name: str
    digest: str
    loaded_at: str
    file: str
    terms: dict[str, int]  # declared terms by kind
    rules: int
    limits: dict[str, int]  # max_body_bytes, max_batch, max_depth


class Term(_Model):
    id: str
    label: str
    parent: str | None = None
    children: list[str] = []
    ancestors: list[str] = []  # nearest first


class Terms(_Model):
    """GET /v1/terms: kind -> terms, in declaration order."""
    policy: PolicySummary
    terms: dict[str, list[Term]]


class MapRule(_Model):
    rule: str
    file: str
    line: int
    section: str
    basis: str | None = None


class MapAnswer(_Model):
    """One answer of the data map: the question's terms (None: not named) and the decision."""
    action: str
    data: str
    source: str | None = None
    purpose: str | None = None
    recipient: str | None = None
    decision: Literal["allow", "deny", "conditional"]
    requires: str | None = None
    rules: list[MapRule] = []


class RuleRef(_Model):
    """A rule as the map lists it; `relation` is "covers" or "narrower"."""
    relation: str
    effect: Literal["allow", "deny"]
    action: str
    rule: str
    condition: str | None = None
    basis: str | None = None
    file: str
    line: int
    section: str


class DataMap(_Model):
    """GET /v1/map: one section per question asked (None: not asked)."""
    policy: PolicySummary
    uses: list[MapAnswer] | None = None
    recipients: list[MapAnswer] | None = None
    data_for: list[MapAnswer] | None = None
    rules_for_purpose: list[RuleRef] | None = None
    without_consent: list[MapAnswer] | None = None


class ReloadAnswer(_Model):
    result: str  # reloaded | unchanged
    trigger: str
    previous_digest: str
    policy: PolicySummary


# ---- the subject store (issue 11): events, the subject view, requests, the sweep, forget -------
# What `Client.record_event`, `subject`, `decide_subject`, `subject_request`, `retention_due` and
# `forget_subject` return (policy_engine/client_subjects.py). Rights answers and plan verdicts
# keep their nested objects as dicts: their reasons have the decision's shape.


class SubjectEvent(_Model):
    """One stored event; `replayed` is set on the answer to a POST (true: the key was seen before)."""
    id: int
    subject: str
    kind: Literal["begin", "end", "collected"]
    at: str
    recorded_at: str
    fact: str | None = None
    category: str | None = None
    source: str | None = None
    channel: str | None = None
    evidence: str | None = None
    policy_digest: str | None = None
    replayed: bool | None = None


class HeldFact(_Model):
    """A fact holding for the subject, and the event that made it hold (the evidence)."""
    fact: str
    event: int
    since: str


class HeldData(_Model):
    category: str
    source: str | None = None
    first_collected: str
    last_collected: str
    events: int


class SubjectRequestRecord(_Model):
    id: int
    subject: str
    kind: str
    received_at: str
    channel: str | None = None
    note: str | None = None


class Tombstone(_Model):
    forgotten_at: str
    request_id: str


class SubjectView(_Model):
    """GET /v1/subjects/{id}: everything the store holds about the subject."""
    subject: str
    known: bool
    events: list[SubjectEvent]
    facts_now: list[HeldFact]
    data: list[HeldData]
    requests: list[SubjectRequestRecord]
    tombstone: Tombstone | None = None


class SubjectRef(_Model):
    id: str
    at: str
    known: bool
    note: str | None = None


class SubjectDecision(_Model):
    """A decision for a subject: the decision's fields, the evidence it rested on, and the subject."""
    decision: Literal["allow", "deny", "conditional"]
    requires: str | None = None
    would_allow_if: str | None = None
    reasons: list[MapRule] = []
    policy: PolicySummary
    evidence: list[HeldFact]
    subject: SubjectRef


class PlanRow(_Model):
    """One (data, source) of an erasure plan: delete_now, keep (for which purposes, by which rules,
    how long: `keep_until` or each purpose's `lasts`), or review (a term the policy lacks)."""
    data: str
    source: str | None = None
    first_collected: str
    last_collected: str
    action: Literal["keep", "delete_now", "review"]
    why: str | None = None
    keep_until: str | None = None
    keep_for: list[dict[str, Any]] = []
    yields_to_request: list[dict[str, Any]] = []
    retention_statement: list[str] = []  # the policy's own words on how long


class ErasurePlan(_Model):
    subject: str
    at: str
    facts: list[HeldFact]
    plan: list[PlanRow]
    policy: PolicySummary
    exceptions: list[dict[str, Any]] | None = None


class RequestAnswer(_Model):
    """POST /v1/subjects/{id}/requests: the request, the rights it rests on, the response deadline,
    and the erasure plan or the data."""
    request: SubjectRequestRecord
    replayed: bool
    rights: list[dict[str, Any]]
    response: dict[str, Any]
    note: str | None = None
    plan: ErasurePlan | None = None
    data: SubjectView | None = None


class DueItem(_Model):
    subject: str
    data: str
    source: str | None = None
    last_collected: str
    action: str
    why: str | None = None
    deadline: str | None = None  # when a time limit ended (or will end) keeping it


class Upcoming(_Model):
    within_days: int
    until: str
    count: int
    items: list[DueItem]
    truncated: bool


class RetentionDue(_Model):
    """GET /v1/retention/due: the count of due rows, the first `limit` of them, and the groups."""
    at: str
    due: int
    items: list[DueItem]
    truncated: bool
    groups: dict[str, list[dict[str, Any]]]
    policy: PolicySummary
    upcoming: Upcoming | None = None


class ForgetAnswer(_Model):
    subject: str
    erased: int
    forgotten_at: str
    request_id: str
class MatchingRule(_Model):
    """A rule that matches an explained question; `cited` when it is one of the answer's reasons."""
    effect: Literal["allow", "deny"]
    rule: str
    condition: str | None = None
    basis: str | None = None
    file: str
    line: int
    section: str
    cited: bool


class Explanation(_Model):
    """POST /v1/explain: `text` as `policy-engine explain` prints it, its `sentences`, the `decision`
    and every `matching` rule (allows first)."""
    text: str
    sentences: list[str]
    decision: Decision
    matching: list[MatchingRule]
