"""Read-only views of the served policy as JSON: /v1/policy, /v1/terms, /v1/map.
In: a Served (policy + loaded_at). Out: plain dicts. Unknown terms raise the engine's QueryError.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from policy_engine.language.source import display_path

from policy_engine.server.config import ServerConfig
from policy_engine.server.errors import ApiError
from policy_engine.server.reload import Served


def shown_path(path: str) -> str:
    """The policy file as callers may see it: relative to the server's folder when it lies below it,
    else its name alone. Never an absolute path: it would tell any caller how the machine is laid out."""
    shown = display_path(path)
    return PurePath(shown).name if PurePath(shown).is_absolute() else shown


def policy_info(served: Served, config: ServerConfig) -> dict[str, Any]:
    p = served.policy
    return {"name": p.name, "digest": p.digest, "loaded_at": served.loaded_at, "file": shown_path(config.policy_path),
            "terms": dict(p.term_counts), "rules": p.rule_count,
            "limits": {"max_body_bytes": config.max_body_bytes, "max_batch": config.max_batch,
                       "max_depth": config.max_depth}}


def terms(served: Served) -> dict[str, Any]:
    """kind -> [{id, label, parent, children, ancestors}], in declaration order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, ids in served.policy.terms.items():
        children: dict[str, list[str]] = {}
        for term in ids.values():
            if term.parent is not None:
                children.setdefault(term.parent, []).append(term.id)
        rows = []
        for term in ids.values():
            ancestors, parent = [], term.parent
            while parent is not None and parent not in ancestors:
                ancestors.append(parent)
                parent = ids[parent].parent if parent in ids else None
            rows.append({"id": term.id, "label": term.label, "parent": term.parent,
                         "children": children.get(term.id, []), "ancestors": ancestors})
        out[kind] = rows
    return {"policy": served.summary, "terms": out}


def _facts(raw: str | None) -> list[str] | None:
    """`facts` absent: unknown (partial evaluation); `facts=` none hold; `facts=a,b` exactly these."""
    if raw is None:
        return None
    return [f.strip() for f in raw.split(",") if f.strip()]


def data_map(served: Served, *, data: str | None, source: str | None, recipient: str | None, purpose: str | None,
             no_consent: bool, facts: str | None, transfers: bool = False) -> dict[str, Any]:
    """One section per question asked: `uses` and `recipients` (data, optionally from a source),
    `data_for` (recipient), `rules_for_purpose` (purpose), `without_consent`, `transfers`."""
    p = served.policy
    if source is not None and data is None:
        raise ApiError(422, "query.missing_field", "`source` narrows a `data` question; name the data too",
                       field="data")
    if data is None and recipient is None and purpose is None and not no_consent and not transfers:
        raise ApiError(400, "request.missing_parameter", "ask a question: data (and source), recipient, purpose, "
                       "no_consent=true or transfers=true", field="data",
                       suggestions=["data", "recipient", "purpose", "no_consent", "transfers"])
    held = _facts(facts)
    out: dict[str, Any] = {"policy": served.summary}
    if data is not None:
        out["uses"] = [r.to_dict() for r in p.uses(data, source, held)]
        out["recipients"] = [r.to_dict() for r in p.recipients(data, source, held)]
    if recipient is not None:
        out["data_for"] = [r.to_dict() for r in p.data_for(recipient, held)]
    if purpose is not None:
        out["rules_for_purpose"] = [r.to_dict() for r in p.rules_for_purpose(purpose)]
    if no_consent:
        out["without_consent"] = [r.to_dict() for r in p.without_consent()]
    if transfers:
        out["transfers"] = [t.to_dict() for t in p.transfers()]
    return out
