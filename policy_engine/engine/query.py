"""Questions and answers. In: a query (dict, pydantic Query or JSON text) and the vocabulary.
Out: a validated query key, or a QueryError; the Decision model that answers it.

The shapes are docs/semantics.md. Dict queries are validated by hand (the engine's hot path
never goes through pydantic); `Query` is the same contract as a pydantic model, for callers
who want one (the HTTP server's request body). An unknown term is a QueryError naming the
term with the nearest known ones, never a deny.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_serializer

from policy_engine.language import ast
from policy_engine.engine import query_time
from policy_engine.engine.compiler import Vocabulary
from policy_engine.language.diagnostics import Diagnostic, PolicyError

FIELDS: frozenset[str] = frozenset({"action", "data", "source", "purpose", "recipient", "destination", "facts", "at",
                                   "collected_at"})
FIELD_ORDER: tuple[str, ...] = ("action", "data", "source", "purpose", "recipient", "destination", "facts", "at",
                                "collected_at")
TERM_FIELDS: tuple[str, ...] = (*ast.DIMENSIONS, ast.DESTINATION)  # destination: a region
ACTION_PATTERN = r"^(" + "|".join(ast.ACTIONS) + r")(\.[A-Za-z_][A-Za-z0-9_]*)*$"

ERROR_CODES: tuple[str, ...] = (
    "query.invalid_json", "query.missing_field", "query.wrong_type", "query.unknown_action",
    "query.missing_dimension", "query.unknown_term", "query.unknown_field", "query.invalid_time",
)


class Query(BaseModel):
    """`{"action": "use", "data": "email", "source": "forum", "purpose": "marketing",
    "recipient": null, "facts": ["newsletter_form"]}`; `facts` None = unknown (partial evaluation).
    `facts` may be an object of fact -> true (held, time unknown) or the RFC 3339 moment it began to
    hold; `at` is the instant asked about (default: now, UTC), `collected_at` when the data was collected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # one of ast.ACTIONS or a sub-action of one that the policy declares (`share.sell`)
    action: Annotated[str, Field(pattern=ACTION_PATTERN)]
    data: str
    source: str | None = None
    purpose: str | None = None
    recipient: str | None = None
    # where a transfer sends the data: a region (`region.us`); None = not named
    destination: str | None = None
    facts: list[str] | dict[str, str | bool] | None = None
    at: str | None = None
    collected_at: str | None = None


_REASON_SCHEMA = {
    "type": "object", "title": "Reason",
    "properties": {"effect": {"enum": ["allow", "deny"], "type": "string"}, "rule": {"type": "string"},
                   "file": {"type": "string"}, "line": {"type": "integer"}, "section": {"type": "string"},
                   "basis": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                   "limit": {"type": "string", "description": "the rule's time limit, durations in ISO 8601: "
                             "`within P30D after account_closed`, `after P2Y after collection`"},
                   "safeguard": {"type": "string", "description": "what a transfer relies on"}},
    "required": ["effect", "rule", "file", "line", "section", "basis"],
}


class Reason(BaseModel):
    """A rule that decided the answer, where it is written, and its legal basis (null if none);
    for a transfer, the safeguard it relies on (absent otherwise)."""

    model_config = ConfigDict(frozen=True)

    effect: Literal["allow", "deny"]
    rule: str
    file: str
    line: int
    section: str
    basis: str | None = None
    limit: str | None = None  # only for a rule with a time limit: `within P30D after account_closed`
    safeguard: str | None = None  # only for a transfer: the safeguard it relies on

    @model_serializer(mode="wrap")
    def _always_basis(self, handler: Any) -> Annotated[dict[str, Any], WithJsonSchema(_REASON_SCHEMA)]:
        out = handler(self)
        out["basis"] = self.basis  # every reason has the same six keys, even with exclude_none
        limit = out.pop("limit", None)
        if limit is not None:  # the seventh, only for a rule with a time limit, after them
            out["limit"] = limit
        if self.safeguard is not None:  # a transfer's safeguard, after the basis
            out["safeguard"] = out.pop("safeguard")
        return out


class PolicyRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    digest: str


class Decision(BaseModel):
    """The docs/semantics.md answer. `requires` only for conditional; `would_allow_if` only for a
    closed-world deny that some allow would lift (the condition under which it would be allowed);
    `until` / `from` (RFC 3339) only where a time limit ends an allow or lifts a deny."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True, validate_by_name=True, validate_by_alias=True)

    decision: Literal["allow", "deny", "conditional"]
    requires: str | None = None
    would_allow_if: str | None = None
    # an allow whose truth ends at a known instant: the first instant after `at` it is no longer
    # allowed (for retain: the deletion deadline); a deny a time limit lifts: the first it is allowed
    until: str | None = None
    from_: str | None = Field(default=None, alias="from")
    reasons: tuple[Reason, ...] = ()
    policy: PolicyRef

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


class QueryError(PolicyError):
    """A query that cannot be answered as asked. `code` is one of ERROR_CODES; `field` names the
    offending field (None for the query as a whole); `suggestions` are the nearest known terms."""

    def __init__(self, code: str, message: str, field: str | None = None, suggestions: list[str] | None = None):
        self.message = message
        self.field = field
        self.suggestions = list(suggestions or [])
        help_ = ("did you mean " + " or ".join(f"`{s}`" for s in self.suggestions) + "?") if self.suggestions else None
        self._code = code
        super().__init__([Diagnostic(code, message, help=help_)])

    @property
    def code(self) -> str:  # type: ignore[override]
        return self._code

    def __str__(self) -> str:  # a query has no file: no compiler prefix (`<input>: error: ...`)
        return self.one_line()

    def one_line(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.suggestions:
            text += " (did you mean " + " or ".join(f"`{s}`" for s in self.suggestions) + "?)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field,
                          "suggestions": self.suggestions}}

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (QueryError, (self.code, self.message, self.field, self.suggestions))


class Key(NamedTuple):
    """A validated query: terms checked against the vocabulary, facts a frozenset or None."""

    action: str
    data: str
    source: str | None
    purpose: str | None
    recipient: str | None
    facts: frozenset[str] | None
    # the times a question carries (query_time): None `at` is now; `times` are (fact, began) pairs
    at: dt.datetime | None = None
    collected_at: dt.datetime | None = None
    times: tuple[tuple[str, dt.datetime], ...] = ()
    destination: str | None = None  # a region: where a transfer sends the data


def parse_json(text: str | bytes) -> Any:
    """JSON text -> a query object (not yet validated); bad JSON is `query.invalid_json`."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise QueryError("query.invalid_json", f"the query is not valid JSON: {err}") from None
    except RecursionError:  # nesting past the interpreter's stack: no query is shaped like that
        raise QueryError("query.too_deep", "the query nests lists or objects too deeply: a query is one object "
                         "whose `facts` is a flat list") from None


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a text", bool: "true or false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _article(kind: str) -> str:
    return {"data": "data", "source": "a source", "purpose": "a purpose", "recipient": "a recipient",
            "fact": "a fact", "region": "a region", "safeguard": "a safeguard", "action": "an action"}[kind]


def validate(raw: Any, vocab: Vocabulary) -> Key:
    """Check a query against docs/semantics.md and the vocabulary; the first fault is raised."""
    if isinstance(raw, Query):
        raw = {"action": raw.action, "data": raw.data, "source": raw.source, "purpose": raw.purpose,
               "recipient": raw.recipient, "facts": raw.facts, "at": raw.at, "collected_at": raw.collected_at,
               "destination": raw.destination}
    if not isinstance(raw, Mapping):
        raise QueryError("query.wrong_type", f"a query is a JSON object, not {_type_name(raw)}")
    for name in raw:
        if name not in FIELDS:
            shown = str(name)
            close = difflib.get_close_matches(shown, FIELD_ORDER, n=1, cutoff=0.6)
            raise QueryError("query.unknown_field", f"unknown field `{shown}`; a query has the fields "
                             + ", ".join(FIELD_ORDER), shown, close)
    for name in ("action", "data"):
        if raw.get(name) is None:
            raise QueryError("query.missing_field", f"the query has no `{name}`", name)
    for name in ("action", *TERM_FIELDS):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise QueryError("query.wrong_type", f"`{name}` must be a text, not {_type_name(value)}", name)
    facts = raw.get("facts")
    times: tuple[tuple[str, dt.datetime], ...] = ()
    if isinstance(facts, Mapping):
        facts, times = query_time.fact_times(facts)
    if facts is not None:
        if not isinstance(facts, (list, tuple)):
            raise QueryError("query.wrong_type", f"`facts` must be a list of fact names, an object of fact names "
                             f"with times, or null, not {_type_name(facts)}", "facts")
        for f in facts:
            if not isinstance(f, str):
                raise QueryError("query.wrong_type", f"`facts` must list fact names (texts), not "
                                 f"{_type_name(f)}", "facts")
    action = raw["action"]
    if action not in ast.ACTIONS and not vocab.has("action", action):
        known = [*ast.ACTIONS, *vocab.terms["action"]]
        close = [k for k in known if k.rsplit(".", 1)[-1] == action][:1] \
            or difflib.get_close_matches(action, known, n=1, cutoff=0.5)
        raise QueryError("query.unknown_action", f"unknown action `{action}`; the actions are "
                         + ", ".join(known), "action", close)
    needed = ast.required_dimension(action)
    if needed is not None and raw.get(needed) is None:
        raise QueryError("query.missing_dimension", f"a `{action}` query must name a {needed}", needed)
    for name in TERM_FIELDS:
        value = raw.get(name)
        if value is not None and not vocab.has(ast.kind_of(name), value):
            raise unknown_term(vocab, ast.kind_of(name), value, name)
    if facts is not None:
        for f in facts:
            if not vocab.has("fact", f):
                raise unknown_term(vocab, "fact", f, "facts")
    at = raw.get("at")
    collected_at = raw.get("collected_at")
    if at is None and collected_at is None and not times:
        return Key(action, raw["data"], raw.get("source"), raw.get("purpose"), raw.get("recipient"),
                   None if facts is None else frozenset(facts), destination=raw.get("destination"))
    at = None if at is None else query_time.instant(at, "at")
    collected_at = None if collected_at is None else query_time.instant(collected_at, "collected_at")
    if collected_at is not None and collected_at > (at or query_time.now()):
        raise QueryError("query.invalid_time", f"`collected_at` ({query_time.rfc3339(collected_at)}) is after the "
                         "instant asked about (`at`, default now): a question is about data already collected",
                         "collected_at")
    return Key(action, raw["data"], raw.get("source"), raw.get("purpose"), raw.get("recipient"),
               None if facts is None else frozenset(facts), at, collected_at, times, raw.get("destination"))


def check_term(vocab: Vocabulary, kind: str, value: Any, field: str) -> None:
    """One term on its own (the data map's arguments), with the same errors as a query's."""
    if not isinstance(value, str):
        raise QueryError("query.wrong_type", f"`{field}` must be a text, not {_type_name(value)}", field)
    if not vocab.has(kind, value):
        raise unknown_term(vocab, kind, value, field)


def unknown_term(vocab: Vocabulary, kind: str, value: str, field: str) -> QueryError:
    suggestions = vocab.suggest(kind, value)
    other = [k for k in vocab.kinds_of(value) if k != kind]
    if other:
        message = f"`{value}` is {_article(other[0])}, not {_article(kind)}"
    else:
        message = f"unknown {kind} `{value}`"
    return QueryError("query.unknown_term", message, field, suggestions)
