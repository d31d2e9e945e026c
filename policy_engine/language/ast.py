"""The policy's abstract syntax. In: nothing (pure data). Out: pydantic nodes.

Every node carries the Span it was parsed from, so diagnostics can point at it; spans are
excluded from dumps and from equality, so `parse(print(ast)) == ast` compares meaning,
not layout. Nodes are frozen: a parsed policy is shared between threads unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from policy_engine.language.source import Span

TermKind = Literal["data", "source", "purpose", "recipient", "fact", "action", "region", "safeguard"]
# One of ACTIONS, or a declared sub-action of one (`share.sell`): dotted like every other term.
Action = str
Effect = Literal["allow", "deny"]
Decision = Literal["allow", "deny", "conditional"]

TERM_KINDS: tuple[str, ...] = ("data", "source", "purpose", "recipient", "fact", "action", "region", "safeguard")
ACTIONS: tuple[str, ...] = ("collect", "use", "share", "retain")
# The dimensions of a rule and of a question besides its action; each names terms of its own kind.
DIMENSIONS: tuple[str, ...] = ("data", "source", "purpose", "recipient")
# A question's destination (a transfer's region, engine/transfers.py) is matched like a dimension
# too; its terms are of kind `region`.
DESTINATION = "destination"
DIMENSION_KIND: dict[str, str] = {DESTINATION: "region"}


def kind_of(dimension: str) -> str:
    """The kind of term a dimension names: its own name, `region` for a destination."""
    return DIMENSION_KIND.get(dimension, dimension)
# GDPR Art. 6(1)(a)-(f)
LEGAL_BASES: tuple[str, ...] = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)
# GDPR Art. 15-22 (with Art. 7(3) withdrawal, Art. 77 complaint), the unsubscribe right of e-privacy
# law, and the rights of the US state privacy laws (CCPA/CPRA, CPA, CTDPA, VCDPA; Shine the Light).
RIGHTS: tuple[str, ...] = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "unsubscribe",
    "withdraw_consent",
    "complaint",
    "automated_decisions",
    "know",
    "know_recipients",
    "delete",
    "correct",
    "opt_out_of_sale",
    "opt_out_of_sharing",
    "limit_sensitive",
    "non_discrimination",
    "appeal",
    "shine_the_light",
)
# The dimension a query must name for each action (docs/semantics.md); retain takes purpose.
REQUIRED_DIMENSION: dict[str, str] = {"collect": "source", "use": "purpose", "share": "recipient"}


def base_action(action: str) -> str:
    """The action a sub-action refines (`share.sell` -> `share`); an action is its own base."""
    return action.split(".", 1)[0]


def required_dimension(action: str) -> str | None:
    """The dimension a question about `action` (or one of its sub-actions) must name."""
    return REQUIRED_DIMENSION.get(base_action(action))


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span | None = Field(default=None, exclude=True, repr=False)

    def _meaning(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in type(self).model_fields if name != "span")

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self._meaning() == other._meaning()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._meaning()))


class TermRef(Node):
    """A use of a term id, kept with its span so an unknown id can be pointed at."""

    id: str


# ---- conditions -----------------------------------------------------------------


class FactRef(Node):
    op: Literal["fact"] = "fact"
    name: str


class Not(Node):
    op: Literal["not"] = "not"
    operand: "Condition"


class And(Node):
    """Operands are never themselves And: the parser flattens `a and (b and c)`."""

    op: Literal["and"] = "and"
    operands: tuple["Condition", ...]


class Or(Node):
    """Operands are never themselves Or: the parser flattens `a or (b or c)`."""

    op: Literal["or"] = "or"
    operands: tuple["Condition", ...]


Condition = Annotated[Union[FactRef, Not, And, Or], Field(discriminator="op")]


# ---- declarations and metadata ------------------------------------------------------


class TermDecl(Node):
    """`data cookie.essential "Essential cookies"`; `id_span` points at the id alone.

    A fact may declare the facts it implies (`fact minor.under_13 "Under 13" implies minor.under_16`);
    its dotted ancestors it implies always. An `action` declares a sub-action of one of ACTIONS
    (`action share.sell "Selling personal information"`): its parent is that action."""

    kind: TermKind
    id: str
    label: str
    implies: tuple[TermRef, ...] = ()
    id_span: Span | None = Field(default=None, exclude=True, repr=False)

    @property
    def parent(self) -> str | None:
        return self.id.rsplit(".", 1)[0] if "." in self.id else None

    def _meaning(self) -> tuple[Any, ...]:
        return (self.kind, self.id, self.label, self.implies)


class Metadata(Node):
    name: str
    controller: str | None = None
    contact: str | None = None
    updated: dt.date | None = None


# ---- section items ----------------------------------------------------------------


class TimeLimit(Node):
    """`within 30 days after account_closed`, `after 2 years`: the rule holds until (`within`) or
    from (`after`) its anchor plus the duration. The anchor is a fact (the moment it began to hold)
    or, when None, the moment of collection. `policy_engine.language.timelimits` gives its meaning."""

    form: Literal["within", "after"]
    duration: "Duration"
    anchor: TermRef | None = None


class Rule(Node):
    """One permission or prohibition. An empty dimension is open; `data=None` is all data."""

    kind: Literal["rule"] = "rule"
    effect: Effect
    action: Action
    data: tuple[TermRef, ...] | None
    sources: tuple[TermRef, ...] = ()
    purposes: tuple[TermRef, ...] = ()
    recipients: tuple[TermRef, ...] = ()
    time: TimeLimit | None = None
    condition: Condition | None = None
    basis: TermRef | None = None
    # a transfer: `in region.us under standard_contractual_clauses` (the regions, the safeguard)
    destinations: tuple[TermRef, ...] = ()
    safeguard: TermRef | None = None


class Query(Node):
    """A question as written in an expectation: one term per dimension; facts None = unknown.
    `ages`: how long ago listed facts began to hold (`given account_closed 10 days ago`);
    `collected`: how long ago the data was collected. Both relative to the instant asked about."""

    action: Action
    data: TermRef
    source: TermRef | None = None
    purpose: TermRef | None = None
    recipient: TermRef | None = None
    facts: tuple[TermRef, ...] | None = None
    ages: tuple[tuple[str, "Duration"], ...] = ()
    collected: "Duration | None" = None
    destination: TermRef | None = None


class Expectation(Node):
    """`lasting`: how long the answer stays as it is (`expect allow for 80 days:`): an allow's
    `until`, a deny's `from`, that far after the instant asked about."""

    kind: Literal["expect"] = "expect"
    decision: Decision
    query: Query
    requires: Condition | None = None
    lasting: "Duration | None" = None


class Duration(Node):
    """`45 days`, `12 months`: a count and a unit as the policy writes them (docs/semantics.md: a month is
    30 days, a year 365)."""

    count: int
    unit: Literal["day", "week", "month", "year"]

    @property
    def days(self) -> int:
        return self.count * {"day": 1, "week": 7, "month": 30, "year": 365}[self.unit]

    def iso(self) -> str:
        """ISO 8601, in the unit written: P45D, P2W, P12M, P1Y."""
        return f"P{self.count}{self.unit[0].upper()}"

    def text(self) -> str:
        return f"{self.count} {self.unit}{'' if self.count == 1 else 's'}"


class RightException(Node):
    """What may still be done after the request: `except retain for legal_obligations`."""

    action: Action
    purposes: tuple[TermRef, ...] = ()


class Right(Node):
    """`right delete if resident.us via "privacy@..." within 45 days extended by 45 days
    at most 2 per 12 months except retain for legal_obligations`: who has the right (the condition),
    where to exercise it, how fast it is answered, how often, and what the request leaves."""

    kind: Literal["right"] = "right"
    right: TermRef
    channels: tuple[str, ...]
    condition: Condition | None = None
    deadline: Duration | None = None
    extension: Duration | None = None
    limit: int | None = None
    per: Duration | None = None
    exceptions: tuple[RightException, ...] = ()


# What a policy states that decides nothing (docs/semantics.md), by the word that starts the statement.
NOTE_TOPICS: tuple[str, ...] = ("scope", "excludes", "processor", "dpo", "effective", "version",
                                "certification", "authority", "controlling_language")


class Note(Node):
    """`scope "..."`, `excludes "..."`, `processor "..." if org_account`, `dpo "..."`,
    `effective 2024-02-01`, `version 2022-08-01 "..."`, `certification "..."`, `authority "..."`,
    `controlling language "English"`: a statement listed and rendered, never decided."""

    kind: Literal["note"] = "note"
    topic: Literal["scope", "excludes", "processor", "dpo", "effective", "version", "certification", "authority",
                   "controlling_language"]
    text: str | None = None
    date: dt.date | None = None
    condition: Condition | None = None


class ChangeNotice(Node):
    """`changes notice 30 days via "website", "e-mail"`: how long before a material change takes
    effect, and how it is announced."""

    kind: Literal["changes"] = "changes"
    notice: Duration
    channels: tuple[str, ...] = ()


class Audience(Node):
    """`audience resident.eea or resident.uk`: whom the section's statements address (legal bases are
    expected only where the audience lies under the GDPR)."""

    kind: Literal["audience"] = "audience"
    condition: Condition


class Retention(Node):
    kind: Literal["retention"] = "retention"
    data: tuple[TermRef, ...] | None
    period: str


class Security(Node):
    kind: Literal["security"] = "security"
    measures: tuple[str, ...]


class Invariant(Node):
    """A promise checked over every question in its scope (never by examples).

    `never ACTION [of DATA] [from S] [for P] [with R]`: every question in scope is denied.
    `every ACTION ... has basis B`: every allow rule that can grant a question in scope has basis B.
    `no ACTION ... without X`: X a legal basis: every question in scope needs a condition, and every
    allow rule that can grant it has basis X; X a fact: no question in scope is allowed unless X holds.
    `no ACTION ... except D1, D2`: every question in scope on data outside D1, D2 is denied.
    `no ACTION ... unless CONDITION`: no question in scope is allowed under facts where CONDITION
    is false.
    `no ACTION ... except under S1, S2`: every allow rule that can grant a question in scope relies
    on one of the safeguards S1, S2 (or a narrower one).
    An empty dimension is open (any term, or none); `data=None` is all data.
    """

    kind: Literal["invariant"] = "invariant"
    form: Literal["never", "every", "no"]
    action: Action
    data: tuple[TermRef, ...] | None = None
    sources: tuple[TermRef, ...] = ()
    purposes: tuple[TermRef, ...] = ()
    recipients: tuple[TermRef, ...] = ()
    basis: TermRef | None = None
    without: TermRef | None = None
    exceptions: tuple[TermRef, ...] = ()
    unless: Condition | None = None
    destinations: tuple[TermRef, ...] = ()
    safeguards: tuple[TermRef, ...] = ()


SectionItem = Annotated[Union[Rule, Expectation, Right, Retention, Security, Invariant, Note, ChangeNotice, Audience],
                       Field(discriminator="kind")]


class Section(Node):
    """Statements citing one heading of the published text; `title` is that heading."""

    title: str
    items: tuple[SectionItem, ...] = ()
    title_span: Span | None = Field(default=None, exclude=True, repr=False)

    def _meaning(self) -> tuple[Any, ...]:
        return (self.title, self.items)


class PolicyFile(Node):
    """One parsed .policy file (the engine's loaded form is `policy_engine.Policy`)."""

    meta: Metadata | None = None
    terms: tuple[TermDecl, ...] = ()
    sections: tuple[Section, ...] = ()

    def rules(self) -> list[tuple[Section, Rule]]:
        return [(s, item) for s in self.sections for item in s.items if isinstance(item, Rule)]

    def expectations(self) -> list[tuple[Section, Expectation]]:
        return [(s, item) for s in self.sections for item in s.items if isinstance(item, Expectation)]

    def invariants(self) -> list[tuple[Section, Invariant]]:
        return [(s, item) for s in self.sections for item in s.items if isinstance(item, Invariant)]


Not.model_rebuild()
And.model_rebuild()
Or.model_rebuild()
TimeLimit.model_rebuild()
Rule.model_rebuild()
Query.model_rebuild()
Right.model_rebuild()
Note.model_rebuild()
Audience.model_rebuild()
Expectation.model_rebuild()
Invariant.model_rebuild()
