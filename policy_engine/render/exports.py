"""Exports for the privacy ecosystem, computed from the same per-purpose processing as the
record of processing (render.ropa.processing):

* `dpv(policy)`: the W3C Data Privacy Vocabulary (DPV 2) as JSON-LD with its context inline
  (no fetch): one dpv:PersonalDataHandling per purpose, with dpv:hasPurpose,
  hasPersonalData, hasProcessing, hasRecipient, hasDataSource, hasLegalBasis,
  hasDataController, hasStorageCondition and hasTechnicalOrganisationalMeasure; the policy's
  terms are nodes of their own (label, id, skos:broader) typed with the DPV concept they map
  to (render.vocabularies).
* `fideslang(policy)`: a fideslang-shaped YAML: the policy's data categories and data uses as
  children of fideslang's default taxonomy keys (`user.contact.email.email`, parent
  `user.contact.email`), and a system whose privacy declarations (one per purpose and legal
  basis) name them. fideslang itself is not needed to write it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from policy_engine.engine import words
from policy_engine.engine.policy import Policy
from policy_engine.render import vocabularies as v
from policy_engine.render.ropa import processing

FORMATS: tuple[str, ...] = ("dpv", "fideslang")
CONTEXT: dict[str, str] = {
    "dpv": "https://w3id.org/dpv#",
    "pd": "https://w3id.org/dpv/pd#",
    "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dct": "http://purl.org/dc/terms/",
}
FIDES_BASES = {"consent": "Consent", "contract": "Contract", "legal_obligation": "Legal obligations",
               "vital_interests": "Vital interests", "public_task": "Public interest",
               "legitimate_interests": "Legitimate interests"}
KINDS = {"data": "data", "purpose": "purpose", "recipient": "recipient", "source": "source"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "policy"


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


# ---- DPV ------------------------------------------------------------------------------------


def dpv(policy: Policy, base: str | None = None) -> dict[str, Any]:
    """The JSON-LD document (a dict); `base`: the IRI prefix of the policy's own nodes."""
    base = base or f"urn:policy-engine:{slug(policy.name)}:"
    context = {**CONTEXT, "policy": base}
    graph: list[dict[str, Any]] = []
    tables = {"data": (v.DPV_DATA, "dpv:PersonalData"), "purpose": (v.DPV_PURPOSES, "dpv:Purpose"),
              "recipient": (v.DPV_RECIPIENTS, "dpv:Recipient"), "source": ((), "dpv:DataSource")}
    generic = {"data": "dpv:PersonalData", "purpose": "dpv:Purpose", "recipient": "dpv:Recipient",
               "source": "dpv:DataSource"}
    for kind, (table, fallback) in tables.items():
        for term_id, term in policy.terms[kind].items():
            concept = v.mapped(table, policy.terms[kind], term_id, fallback) if table else fallback
            node: dict[str, Any] = {"@id": f"policy:{kind}/{term_id}",
                                    "@type": list(dict.fromkeys([generic[kind], concept])),
                                    "rdfs:label": term.label, "dct:identifier": term_id}
            if term.parent is not None:
                node["skos:broader"] = _ref(f"policy:{kind}/{term.parent}")
            graph.append(node)
    meta = policy.metadata
    stated = policy.statements()
    controller = {"@id": "policy:controller", "@type": "dpv:DataController",
                  "rdfs:label": meta.get("controller") or policy.name}
    if meta.get("contact"):
        controller["dpv:hasContact"] = meta["contact"]
    graph.append(controller)
    measures = []
    for i, m in enumerate(m for s in stated["security"] for m in s["measures"]):
        concept = v.match(v.DPV_MEASURES, "", m) or "dpv:TechnicalOrganisationalMeasure"
        measures.append({"@id": f"policy:measure/{i + 1}", "@type": concept, "rdfs:label": m})
    graph += measures
    for use in processing(policy):
        handling: dict[str, Any] = {
            "@id": f"policy:handling/{use.purpose}", "@type": "dpv:PersonalDataHandling",
            "rdfs:label": policy.terms["purpose"][use.purpose].label,
            "dpv:hasPurpose": _ref(f"policy:purpose/{use.purpose}"),
            "dpv:hasPersonalData": [_ref(f"policy:data/{d}") for d in policy.terms["data"] if d in use.data],
            "dpv:hasProcessing": [_ref(v.DPV_ACTIONS[a]) for a, on in
                                  (("use", use.used), ("retain", use.kept), ("share", use.recipients)) if on],
            "dpv:hasDataController": _ref("policy:controller"),
        }
        if use.recipients:
            handling["dpv:hasRecipient"] = [_ref(f"policy:recipient/{r}") for r in policy.terms["recipient"]
                                            if r in use.recipients]
        sources = [s for s in policy.terms["source"] if s in use.sources]
        if sources:
            handling["dpv:hasDataSource"] = [_ref(f"policy:source/{s}") for s in sources]
        if use.bases:
            handling["dpv:hasLegalBasis"] = [_ref(c) for b in sorted(use.bases) for c in v.DPV_BASES[b]]
        retention = [r["period"] for r in stated["retention"]
                     if r["data"] is None or any(d == x or d.startswith(x + ".") for x in r["data"] for d in use.data)]
        if retention:
            handling["dpv:hasStorageCondition"] = [{"@type": "dpv:StorageDuration", "rdfs:label": p}
                                                   for p in retention]
        if measures:
            handling["dpv:hasTechnicalOrganisationalMeasure"] = [_ref(m["@id"]) for m in measures]
        if use.conditions:
            handling["rdfs:comment"] = "; ".join(words.answer("conditional", c) for c in use.conditions)
        graph.append(handling)
    return {"@context": context, "@graph": graph}


def dpv_jsonld(policy: Policy, base: str | None = None) -> str:
    return json.dumps(dpv(policy, base), indent=2, ensure_ascii=False) + "\n"


# ---- fideslang ------------------------------------------------------------------------------


def _fides_key(parent: str, term_id: str) -> str:
    return f"{parent}.{term_id.replace('.', '_')}"


def fideslang(policy: Policy) -> dict[str, Any]:
    """The fideslang resources (a dict of data_category, data_use and system lists)."""
    categories, uses = {}, {}
    out: dict[str, Any] = {"data_category": [], "data_use": [], "system": []}
    for term_id, term in policy.terms["data"].items():
        parent = v.mapped(v.FIDES_DATA, policy.terms["data"], term_id, "user")
        categories[term_id] = _fides_key(parent, term_id)
        out["data_category"].append({"fides_key": categories[term_id], "name": term.label, "parent_key": parent,
                                     "description": f"`{term_id}` in the policy \"{policy.name}\"."})
    for term_id, term in policy.terms["purpose"].items():
        parent = v.mapped(v.FIDES_USES, policy.terms["purpose"], term_id, "operations")
        uses[term_id] = _fides_key(parent, term_id)
        out["data_use"].append({"fides_key": uses[term_id], "name": term.label, "parent_key": parent,
                                "description": f"`{term_id}` in the policy \"{policy.name}\"."})
    declarations = []
    for use in processing(policy):
        label = policy.terms["purpose"][use.purpose].label
        data = [categories[d] for d in policy.terms["data"] if d in use.data]
        for basis in sorted(use.bases) or [None]:
            declaration: dict[str, Any] = {"name": label, "data_use": uses[use.purpose], "data_categories": data,
                                           "data_subjects": []}
            if basis is not None:
                declaration["legal_basis_for_processing"] = FIDES_BASES[basis]
            if use.recipients:
                declaration["third_parties"] = ", ".join(policy.terms["recipient"][r].label
                                                         for r in policy.terms["recipient"] if r in use.recipients)
            declarations.append(declaration)
    out["system"].append({"fides_key": slug(policy.name).replace("-", "_"), "name": policy.name,
                          "description": f"The processing the policy \"{policy.name}\" allows ({policy.digest}).",
                          "system_type": "Service", "privacy_declarations": declarations})
    return out


def fideslang_yaml(policy: Policy) -> str:
    header = (f"# fideslang resources of the policy \"{policy.name}\",\n"
              "# written by `policy-engine export --format fideslang`. The data categories and uses are the\n"
              "# policy's own terms, each under the default fideslang key it maps to.\n")
    return header + yaml.safe_dump(fideslang(policy), sort_keys=False, allow_unicode=True, width=100)


def export(policy: Policy, fmt: str) -> str:
    if fmt == "dpv":
        return dpv_jsonld(policy)
    if fmt == "fideslang":
        return fideslang_yaml(policy)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
