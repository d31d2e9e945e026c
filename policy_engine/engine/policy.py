"""A loaded policy: compile once, decide many. In: a CompiledPolicy, the digest of its text and
the checker's warnings. Out: Policy, the object callers hold (immutable; safe to share between
threads). The guardrails read the same object: its `source`, `tree` (the AST) and `compiled` form.

`decide` has a fast path for dict queries: the query's six fields are the key of a bounded
memo of finished (immutable) Decisions, so a repeated question costs a few dict lookups;
anything new goes through hand validation and the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from policy_engine.language import ast
from policy_engine.engine import graph_export, rights, timed_words
from policy_engine.engine.rights import RightsAnswer
from policy_engine.engine.compiler import CompiledPolicy, FrozenDict, Term
from policy_engine.engine.datamap import DataMap, MapRow, RuleRef
from policy_engine.engine.engine import Engine
from policy_engine.engine.explain import explanation_parts, explanation_text
from policy_engine.engine.transfers import Transfer, transfers
from policy_engine.engine.query import FIELDS, Decision, Key, PolicyRef, Query, QueryError, check_term, validate
from policy_engine.language.diagnostics import Diagnostic
from policy_engine.language.logic import Requirement

CACHE_LIMIT = 100_000
_UNCACHEABLE = object()  # facts given as something other than a list: never a cache key
# the fields of a question without times or destination: keyed by them alone, as before those existed
BASE_FIELDS = frozenset({"action", "data", "source", "purpose", "recipient", "facts"})


def _extra_key(key: tuple[Any, ...], get: Any) -> tuple[Any, ...]:
    """A memo key with `at`, `collected_at` and `destination` added when the query gives one (only
    such queries pay for it: a question with the six first fields only is keyed by them, as before)."""
    extra = (get("at"), get("collected_at"), get("destination"))
    return key if extra == (None, None, None) else (*key, *extra)


class Policy:
    """`name`, `digest` ("sha256:<hex>" of the policy text), `path`, `terms` (kind -> id -> Term,
    read-only), `rule_count`, `term_counts`, `metadata` (name, controller, contact, updated);
    `source`, `tree` (the checked AST), `compiled` and `warnings` (the checker's) for the guardrails.

    Deciding: `decide(query)`, `decide_many(queries)`, `explain(query)`.
    The data map: `uses(data, source=None, facts=None)`, `recipients(data, source=None,
    facts=None)`, `data_for(recipient, facts=None)` -> list[MapRow]; `rules_for_purpose(purpose)`
    -> list[RuleRef]; `without_consent()` -> list[MapRow]; `statements()` lists rights,
    retention and security; `graph` is the frozen networkx graph, `export_graph(fmt)` its text.
    """

    __slots__ = ("name", "digest", "path", "terms", "rule_count", "term_counts", "metadata", "source", "tree",
                 "compiled", "warnings", "_compiled", "_engine", "_map", "_cache", "_lock")

    def __init__(self, compiled: CompiledPolicy, digest: str, warnings: tuple[Diagnostic, ...] = ()):
        put = super().__setattr__
        put("source", compiled.source)
        put("tree", compiled.tree)
        put("compiled", compiled)
        put("warnings", tuple(warnings))
        put("name", compiled.name)
        put("digest", digest)
        put("path", compiled.source.path)
        put("terms", compiled.vocabulary.terms)
        put("rule_count", len(compiled.rules))
        put("term_counts", FrozenDict(compiled.vocabulary.counts()))
        put("metadata", compiled.metadata)
        put("_compiled", compiled)
        put("_engine", Engine(compiled, PolicyRef(name=compiled.name, digest=digest)))
        put("_map", DataMap(compiled, self._engine))
        put("_cache", {})
        put("_lock", threading.Lock())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Policy is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Policy is immutable: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"<Policy {self.name!r} {self.digest[:19]}... {self.rule_count} rules>"

    # ---- deciding ---------------------------------------------------------------------

    def decide(self, query: Mapping[str, Any] | Query) -> Decision:
        """docs/semantics.md. Raises QueryError (never a deny) for a malformed query or unknown term.

        With time limits: `at` (RFC 3339 text or an aware datetime; default now), `collected_at`,
        and `facts` as a mapping of fact -> the moment it began to hold (or True: held, time
        unknown); the answer then carries `until` / `from_` where a limit ends or lifts it."""
        if type(query) is dict and ((plain := query.keys() <= BASE_FIELDS) or query.keys() <= FIELDS):
            get = query.get
            f = get("facts")
            try:
                key = (get("action"), get("data"), get("source"), get("purpose"), get("recipient"),
                       f if f is None else tuple(f) if type(f) is list else _UNCACHEABLE)
                hit = self._cache.get(key if plain else _extra_key(key, get))
            except TypeError:  # an unhashable value; validation will name it
                hit = None
            if hit is not None:
                return hit
        elif type(query) is Query:
            f = query.facts
            extra = () if query.at is None and query.collected_at is None and query.destination is None \
                else (query.at, query.collected_at, query.destination)
            hit = self._cache.get((query.action, query.data, query.source, query.purpose, query.recipient,
                                   None if f is None else tuple(f) if type(f) is list else _UNCACHEABLE, *extra))
            if hit is not None:
                return hit
        return self._decide(query)

    def decide_many(self, queries: Iterable[Mapping[str, Any] | Query]) -> list[Decision]:
        """One Decision per query, in order. The first bad query raises its QueryError, with
        `index` set to its position."""
        out: list[Decision] = []
        append = out.append
        cache_get = self._cache.get
        fields, base = FIELDS, BASE_FIELDS
        for index, query in enumerate(queries):
            if type(query) is dict and ((plain := query.keys() <= base) or query.keys() <= fields):
                get = query.get
                f = get("facts")
                try:
                    key = (get("action"), get("data"), get("source"), get("purpose"), get("recipient"),
                           f if f is None else tuple(f) if type(f) is list else _UNCACHEABLE)
                    hit = cache_get(key if plain else _extra_key(key, get))
                except TypeError:
                    hit = None
                if hit is not None:
                    append(hit)
                    continue
            try:
                append(self._decide(query))
            except QueryError as err:
                err.index = index  # type: ignore[attr-defined]
                raise
        return out

    def _decide(self, query: Any) -> Decision:
        key = validate(query, self._compiled.vocabulary)
        decision = self._engine.decide(key)
        raw = query if isinstance(query, Mapping) else query.model_dump()
        facts = raw.get("facts")
        if isinstance(facts, Mapping) or (raw.get("at") is None and raw.get("collected_at") is not None):
            return decision  # facts with times, or a collection time asked about now: answers change with now
        extra = (raw.get("at"), raw.get("collected_at"), key.destination)
        extra = () if extra == (None, None, None) else extra
        memo = (key.action, key.data, key.source, key.purpose, key.recipient,
                None if facts is None else tuple(facts), *extra)
        with self._lock:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[memo] = decision
        return decision

    def key(self, query: Mapping[str, Any] | Query) -> Key:
        """The validated form of a query (raises QueryError)."""
        return validate(query, self._compiled.vocabulary)

    def requirement(self, query: Mapping[str, Any] | Query) -> Requirement:
        """What the question needs, facts omitted, as a value (True, False or a condition): the
        `requires` of a conditional answer before it is put into words."""
        return self._engine.explain(self.key(query)).requirement

    def rights(self, query: Mapping[str, Any]) -> RightsAnswer:
        """docs/semantics.md: `{"right": "erasure", "facts": [...]}` (facts omitted: unknown; an object of
        fact -> the time it began, with `at`, for a condition with a time limit) -> whether the person has
        the right, its channels, deadline, extension, limit, exceptions and reasons, and `until` / `from`
        where a time limit changes it."""
        return rights.answer(self._compiled, self._engine.ref, query)

    def explain(self, query: Mapping[str, Any] | Query) -> str:
        """The decision as sentences, with the rules cited and, for a deny, what would lift it
        (and the narrower terms it is allowed for, when a parent term is denied)."""
        from policy_engine.engine.narrower import allowed_children

        key = self.key(query)
        ex = self._engine.explain(key)
        return explanation_text(ex, allowed_children(self._engine, key, ex.decision), self._compiled)

    def explanation(self, query: Mapping[str, Any] | Query) -> dict[str, Any]:
        """`explain` as data (`POST /v1/explain`): its text and lines, the answer, every matching rule."""
        from policy_engine.engine.narrower import allowed_children

        key = self.key(query)
        ex = self._engine.explain(key)
        return explanation_parts(ex, allowed_children(self._engine, key, ex.decision), self._compiled)

    # ---- the data map -----------------------------------------------------------------

    def _term(self, kind: str, value: str, field: str) -> None:
        check_term(self._compiled.vocabulary, kind, value, field)

    def _facts(self, facts: Iterable[str] | None) -> frozenset[str] | None:
        if facts is None:
            return None
        held = frozenset(facts)
        for f in sorted(held):
            self._term("fact", f, "facts")
        return held

    def uses(self, data: str, source: str | None = None, facts: Iterable[str] | None = None) -> list[MapRow]:
        """What data may be used for (from one source, or from each), allowed or conditional."""
        self._term("data", data, "data")
        if source is not None:
            self._term("source", source, "source")
        return self._map.uses(data, source, self._facts(facts))

    def recipients(self, data: str, source: str | None = None, facts: Iterable[str] | None = None) -> list[MapRow]:
        """Who may receive the data (shared from one source, or from each)."""
        self._term("data", data, "data")
        if source is not None:
            self._term("source", source, "source")
        return self._map.recipients(data, source, self._facts(facts))

    def data_for(self, recipient: str, facts: Iterable[str] | None = None) -> list[MapRow]:
        """Which data reach a recipient."""
        self._term("recipient", recipient, "recipient")
        return self._map.data_for(recipient, self._facts(facts))

    def rules_for_purpose(self, purpose: str) -> list[RuleRef]:
        """The rules naming the purpose or a broader one ("covers"), or a narrower one ("narrower")."""
        self._term("purpose", purpose, "purpose")
        return self._map.rules_for_purpose(purpose)

    def transfers(self) -> list[Transfer]:
        """The transfers the policy allows: data, recipients, destination regions, safeguard, condition."""
        return transfers(self._compiled.rules)

    def without_consent(self) -> list[MapRow]:
        """What is allowed when no fact (no consent, request or legal event) holds."""
        return self._map.without_consent()

    def statements(self) -> dict[str, Any]:
        """Controller, contact, rights with their channels, retention periods, security measures."""
        tree = self._compiled.tree
        rights, retention, security, notes = [], [], [], []
        for section in tree.sections:
            for item in section.items:
                if isinstance(item, ast.Right):
                    rights.append({"right": item.right.id, "channels": list(item.channels), "section": section.title,
                                   **statement_details(item)})
                elif isinstance(item, (ast.Note, ast.ChangeNotice, ast.Audience)):
                    notes.append({**statement_details(item), "section": section.title})
                elif isinstance(item, ast.Retention):
                    retention.append({"data": None if item.data is None else [r.id for r in item.data],
                                      "period": item.period, "section": section.title})
                elif isinstance(item, ast.Security):
                    security.append({"measures": list(item.measures), "section": section.title})
        retention += timed_words.retention_periods(tree)  # the periods time limits on retain rules state
        out = {**self.metadata, "rights": rights, "retention": retention, "security": security}
        if notes:  # statements that decide nothing (docs/semantics.md), where the policy has any
            out["statements"] = notes
        return out

    @property
    def graph(self) -> Any:
        """The compiled networkx MultiDiGraph (frozen: read it, never change it)."""
        return self._compiled.graph

    def export_graph(self, fmt: str = "json") -> str:
        return graph_export.export(self._compiled.graph, fmt, self.name, self.digest)

    def vocabulary(self) -> dict[str, list[dict[str, Any]]]:
        """The terms as plain JSON: kind -> [{kind, id, label, parent}]."""
        return {kind: [t.to_dict() for t in ids.values()] for kind, ids in self.terms.items()}


def statement_details(item: ast.Right | ast.Note | ast.ChangeNotice | ast.Audience) -> dict[str, Any]:
    """A statement's parts as plain JSON (only the parts it states)."""
    from policy_engine.language.printer import format_condition

    out: dict[str, Any] = {}
    if isinstance(item, ast.Right):
        if item.condition is not None:
            out["if"] = format_condition(item.condition)
        if item.deadline is not None:
            out["deadline"] = item.deadline.iso()
        if item.extension is not None:
            out["extension"] = item.extension.iso()
        if item.limit is not None and item.per is not None:
            out["limit"] = f"{item.limit} per {item.per.iso()}"
        if item.exceptions:
            out["exceptions"] = [{"action": e.action, "purposes": [p.id for p in e.purposes]} for e in item.exceptions]
        return out
    if isinstance(item, ast.Note):
        out["statement"] = item.topic
        if item.text is not None:
            out["text"] = item.text
        if item.date is not None:
            out["date"] = item.date.isoformat()
        if item.condition is not None:
            out["if"] = format_condition(item.condition)
    elif isinstance(item, ast.ChangeNotice):
        out.update(statement="changes", notice=item.notice.iso(), channels=list(item.channels))
    else:
        out.update(statement="audience", audience=format_condition(item.condition))
    return out


__all__ = ["Policy", "Term", "MapRow", "RuleRef"]
