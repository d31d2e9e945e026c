"""The decision API's JSON bodies as typed models: one definition, read by both sides. The server's
OpenAPI document describes its answers with them (server/schemas.py) and the Python client returns
them (client.py, client_subjects.py), so the document and the client cannot drift apart. Pydantic
only: no web framework and no HTTP library, so code handling these answers needs neither.

Fields a newer server adds are kept (extra="allow"), not refused, so an older client keeps
working (the document says so: `additionalProperties` is allowed); `answer["field"]` reads a field
too, as the client's earlier dict answers allowed. The names are the OpenAPI document's component
names; client_models.py keeps the client's older names for two of them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_engine import Decision

DECISION_ID = ("this answer's id, a UUIDv7 (RFC 9562: time-ordered, so ids sort by when they were made); "
               "the `decision_id` of its row in the decision log")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


class ServedDecision(Decision):
    """A decision as the client reads it: the library's Decision plus `decision_id`, the UUIDv7 of
    its row in the server's decision log (None from a server older than decision ids)."""

    decision_id: str | None = None

    def as_decision(self) -> Decision:
        """The library's Decision (without the id), to compare with `Policy.decide`."""
        return Decision.model_validate(self.model_dump(exclude={"decision_id"}))


class DecisionAnswer(Decision):
    """A decision as the server sends it: the docs/semantics.md answer and its `decision_id`."""

    decision_id: str = Field(description=DECISION_ID, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                                               r"[0-9a-f]{12}$")


class PolicySummary(_Model):
    name: str
    digest: str


class PolicyInfo(_Model):
    """GET /v1/policy: the policy being served."""
    name: str
    digest: str
    loaded_at: str
    file: str
    terms: dict[str, int] = Field(description="declared terms by kind")
    rules: int
    limits: dict[str, int] = Field(description="max_body_bytes, max_batch, max_depth")


class Term(_Model):
    id: str
    label: str
    parent: str | None = None
    children: list[str] = Field(default_factory=list,
                                description="the terms whose parent this is, in declaration order")
    ancestors: list[str] = Field(default_factory=list, description="parent, grandparent, ...: nearest first")


class Terms(_Model):
    """GET /v1/terms: kind (data, source, purpose, recipient, fact, ...) -> its terms, in declaration order."""
    policy: PolicySummary
    terms: dict[str, list[Term]]


class MapRule(_Model):
    rule: str
    file: str
    line: int
    section: str
    basis: str | None = None


class MapAnswer(_Model):
    """One answer of the data map: the question's terms (None: not named) and its decision."""
    action: str
    data: str
    source: str | None = None
    purpose: str | None = None
    recipient: str | None = None
    decision: Literal["allow", "deny", "conditional"]
    requires: str | None = None
    rules: list[MapRule] = []


class MapRuleRef(_Model):
    """A rule as the map lists it: `relation` "covers" (it names the term or an ancestor) or "narrower"."""
    relation: Literal["covers", "narrower"]
    effect: Literal["allow", "deny"]
    action: str
    rule: str
    condition: str | None = None
    basis: str | None = None
    file: str
    line: int
    section: str


class Transfer(_Model):
    """An allowed transfer as the policy writes it: an allow rule that names destinations (None:
    all data; an empty list of purposes: any purpose)."""
    action: str
    data: list[str] | None = None
    purposes: list[str] = []
    recipients: list[str] = []
    destinations: list[str]
    safeguard: str | None = Field(None, description="the safeguard the transfer rests on (`under ...`), if stated")
    condition: str | None = None
    rule: str
    file: str
    line: int
    section: str


class DataMap(_Model):
    """GET /v1/map: one section per question asked; a section not asked is None."""
    policy: PolicySummary
    uses: list[MapAnswer] | None = Field(None, description="what `data` may be used for (asked with data)")
    recipients: list[MapAnswer] | None = Field(None, description="who may receive `data` (asked with data)")
    data_for: list[MapAnswer] | None = Field(None, description="which data reach `recipient`")
    rules_for_purpose: list[MapRuleRef] | None = Field(None, description="the rules that cover `purpose`")
    without_consent: list[MapAnswer] | None = Field(None, description="what is allowed when no fact holds")
    transfers: list[Transfer] | None = Field(None, description="the transfers the policy allows, in policy order "
                                                                "(asked with transfers=true)")


class ReloadAnswer(_Model):
    """POST /v1/admin/reload: what happened, and the policy served now."""
    result: str = Field(description="reloaded | unchanged")
    trigger: str
    previous_digest: str
    policy: PolicySummary = Field(description="the policy served now (its name, digest, file and when it was loaded)")


class MatchingRule(_Model):
    """A rule that matches an explained question; `cited` when it is one of the answer's reasons."""
    effect: Literal["allow", "deny"]
    rule: str = Field(description="the rule on one line, as written")
    condition: str | None = Field(None, description="its `if` condition, when it has one")
    basis: str | None = Field(None, description="its legal basis, when it names one")
    file: str
    line: int
    section: str
    cited: bool = Field(description="one of the answer's reasons (an allow whose condition fails, or one a deny "
                                    "overrides, is not)")


class ExplainAnswer(_Model):
    """POST /v1/explain: what `policy-engine explain` says about a query, as text and as data."""
    text: str = Field(description="the explanation as `policy-engine explain` prints it")
    sentences: list[str] = Field(description="`text`, one line each (rule lines are indented)")
    decision: Decision = Field(description="the answer to the query (docs/semantics.md), as /v1/decide gives it "
                                           "without `decision_id`: an explanation is not logged")
    matching: list[MatchingRule] = Field(description="every rule that matches the question, allows first")


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
