"""Shapes of the HTTP bodies, for the OpenAPI document. The handlers read and write JSON
themselves (for the limits and the error shape); these models only describe it. The answers the
client reads too are defined once in `policy_engine.wire` (imported here); what only the server
says (its error shape, health, the batch bodies) is here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy_engine.wire import (DECISION_ID, DataMap, DecisionAnswer, ExplainAnswer, MapAnswer, MapRule,  # noqa: F401
                                MapRuleRef, MatchingRule, PolicyInfo, PolicySummary, ReloadAnswer, Term, Terms)


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="stable code: query.*, request.*, auth.*, reload.*, internal")
    message: str
    field: str | None = Field(None, description="the query field at fault, when there is one")
    suggestions: list[str] = Field(default_factory=list, description="nearest known terms, for an unknown term")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # a failed reload also names the policy still served
    error: ErrorDetail


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str
    policy: PolicySummary | None = None


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
