"""The decision API's answers other than decisions, as typed models: what `Client` and
`AsyncClient` return for the policy, its terms, the data map and a reload. Apart from the client
so that code handling these answers does not need httpx.

Fields a newer server adds are kept (extra="allow"), not refused, so an older client keeps
working; `answer["field"]` reads a field too, as the client's earlier dict answers allowed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


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
