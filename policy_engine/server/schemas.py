"""Shapes of the HTTP bodies, for the OpenAPI document. The handlers read and write JSON
themselves (for the limits and the error shape); these models only describe it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_engine import Decision

DECISION_ID = ("this answer's id, a UUIDv7 (RFC 9562: time-ordered, so ids sort by when they were made); "
               "the `decision_id` of its row in the decision log")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="stable code: query.*, request.*, auth.*, reload.*, internal")
    message: str
    field: str | None = Field(None, description="the query field at fault, when there is one")
    suggestions: list[str] = Field(default_factory=list, description="nearest known terms, for an unknown term")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # a failed reload also names the policy still served
    error: ErrorDetail


class DecisionAnswer(Decision):
    """A decision as the server sends it: the docs/semantics.md answer and its `decision_id`."""

    decision_id: str = Field(description=DECISION_ID, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                                               r"[0-9a-f]{12}$")


class MatchingRule(BaseModel):
    effect: Literal["allow", "deny"]
    rule: str = Field(description="the rule on one line, as written")
    condition: str | None = Field(None, description="its `if` condition, when it has one")
    basis: str | None = Field(None, description="its legal basis, when it names one")
    file: str
    line: int
    section: str
    cited: bool = Field(description="one of the answer's reasons (an allow whose condition fails, or one a deny "
                                    "overrides, is not)")


class ExplainAnswer(BaseModel):
    """POST /v1/explain: what `policy-engine explain` says about a query, as text and as data."""

    text: str = Field(description="the explanation as `policy-engine explain` prints it")
    sentences: list[str] = Field(description="`text`, one line each (rule lines are indented)")
    decision: Decision = Field(description="the answer to the query (docs/semantics.md), as /v1/decide gives it "
                                           "without `decision_id`: an explanation is not logged")
    matching: list[MatchingRule] = Field(description="every rule that matches the question, allows first")


class PolicySummary(BaseModel):
    name: str
    digest: str


class PolicyInfo(BaseModel):
    name: str
    digest: str
    loaded_at: str
    file: str
    terms: dict[str, int] = Field(description="declared terms by kind")
    rules: int
    limits: dict[str, int]


class Term(BaseModel):
    id: str
    label: str
    parent: str | None = None
    children: list[str] = Field(description="the terms whose parent this is, in declaration order")
    ancestors: list[str] = Field(description="parent, grandparent, ...: nearest first")


class Terms(BaseModel):
    """GET /v1/terms: kind (data, source, purpose, recipient, fact, ...) -> its terms, in declaration order."""
    policy: PolicySummary
    terms: dict[str, list[Term]]


class MapRule(BaseModel):
    rule: str
    file: str
    line: int
    section: str
    basis: str | None = None


class MapAnswer(BaseModel):
    """One answer of the data map: the question's terms (absent: not named) and its decision."""
    action: str
    data: str
    source: str | None = None
    purpose: str | None = None
    recipient: str | None = None
    decision: Literal["allow", "deny", "conditional"]
    requires: str | None = None
    rules: list[MapRule] = []


class MapRuleRef(BaseModel):
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


class DataMap(BaseModel):
    """GET /v1/map: one section per question asked; a section not asked is absent."""
    policy: PolicySummary
    uses: list[MapAnswer] | None = Field(None, description="what `data` may be used for (asked with data)")
    recipients: list[MapAnswer] | None = Field(None, description="who may receive `data` (asked with data)")
    data_for: list[MapAnswer] | None = Field(None, description="which data reach `recipient`")
    rules_for_purpose: list[MapRuleRef] | None = Field(None, description="the rules that cover `purpose`")
    without_consent: list[MapAnswer] | None = Field(None, description="what is allowed when no fact holds")


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str
    policy: PolicySummary | None = None


class ReloadAnswer(BaseModel):
    result: str = Field(description="reloaded | unchanged")
    trigger: str
    previous_digest: str
    policy: dict[str, Any]


def batch_request_schema(query_ref: str, max_batch: int) -> dict[str, Any]:
    return {
        "title": "BatchRequest",
        "type": "object",
        "properties": {"queries": {
            "type": "array", "maxItems": max_batch,
            # Any value is taken: a query that is not one gets an error object in its slot, and the batch succeeds.
            "items": {"anyOf": [{"$ref": query_ref}, {}],
                      "description": "a Query; anything else is answered with an error object in its slot"}}},
        "required": ["queries"],
        "additionalProperties": False,
    }


def batch_answer_schema(decision_ref: str, error_ref: str) -> dict[str, Any]:
    return {
        "title": "BatchAnswer",
        "type": "object",
        "properties": {"answers": {"type": "array", "items": {"anyOf": [{"$ref": decision_ref}, {"$ref": error_ref}]},
                                   "description": "one per query, in order; a bad query gets an error object"}},
        "required": ["answers"],
    }
