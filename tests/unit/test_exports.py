"""Exports: DPV as JSON-LD (read back with rdflib) and fideslang-shaped YAML (against a copy of
the default fideslang taxonomy keys)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS

from policy_engine.cli.app import cli
from policy_engine.render import exports
from policy_engine.render.ropa import processing

from paths import FIXTURES, OPEN_E

DPV = Namespace("https://w3id.org/dpv#")
PD = Namespace("https://w3id.org/dpv/pd#")
GDPR = Namespace("https://w3id.org/dpv/legal/eu/gdpr#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")


def taxonomy_keys() -> set[str]:
    lines = (FIXTURES / "fideslang_taxonomy_keys.txt").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


@pytest.fixture(scope="module")
def graph(open_e):
    g = Graph()
    g.parse(data=exports.dpv_jsonld(open_e), format="json-ld")
    return g


def node(open_e, path: str) -> URIRef:
    return URIRef(f"urn:policy-engine:{exports.slug(open_e.name)}:{path}")


def test_dpv_has_one_personal_data_handling_per_purpose(open_e, graph):
    handlings = set(graph.subjects(RDF.type, DPV.PersonalDataHandling))
    assert len(handlings) == len(processing(open_e)) == 29
    for h in handlings:
        assert len(list(graph.objects(h, DPV.hasPurpose))) == 1
        assert list(graph.objects(h, DPV.hasPersonalData))
        assert (h, DPV.hasDataController, node(open_e, "controller")) in graph


def test_dpv_marketing_handling_maps_its_concepts(open_e, graph):
    h = node(open_e, "handling/marketing")
    purpose = node(open_e, "purpose/marketing")
    assert (h, DPV.hasPurpose, purpose) in graph
    assert (purpose, RDF.type, DPV.Purpose) in graph and (purpose, RDF.type, DPV.Marketing) in graph
    assert (purpose, RDFS.label, Literal("Marketing")) in graph
    assert set(graph.objects(h, DPV.hasPersonalData)) == {node(open_e, "data/email")}
    assert (node(open_e, "data/email"), RDF.type, PD.EmailAddress) in graph
    assert set(graph.objects(h, DPV.hasLegalBasis)) == {DPV.Consent, GDPR["A6-1-a"]}
    assert (h, DPV.hasProcessing, DPV.Use) in graph and (h, DPV.hasProcessing, DPV.Share) in graph
    assert (h, DPV.hasDataSource, node(open_e, "source/contact")) in graph
    recipients = set(graph.objects(h, DPV.hasRecipient))
    assert node(open_e, "recipient/service_provider.email_delivery") in recipients
    assert (node(open_e, "recipient/service_provider.email_delivery"), RDF.type, DPV.DataProcessor) in graph
    assert (node(open_e, "recipient/authority"), RDF.type, DPV.Authority) in graph
    assert "newsletter_form or notification_settings" in str(graph.value(h, RDFS.comment))
    # hierarchy and the rest of Art. 30's content
    assert (node(open_e, "purpose/marketing.newsletter"), SKOS.broader, purpose) in graph
    storage = list(graph.objects(h, DPV.hasStorageCondition))
    assert storage and (storage[0], RDF.type, DPV.StorageDuration) in graph
    measures = set(graph.objects(h, DPV.hasTechnicalOrganisationalMeasure))
    assert any((m, RDF.type, DPV.Encryption) in graph for m in measures)


def test_dpv_legal_bases_follow_the_rules(open_e, graph):
    assert set(graph.objects(node(open_e, "handling/legal_compliance"), DPV.hasLegalBasis)) == \
        {DPV.LegalObligation, GDPR["A6-1-c"]}
    assert set(graph.objects(node(open_e, "handling/rights_protection"), DPV.hasLegalBasis)) == \
        {DPV.LegitimateInterest, GDPR["A6-1-f"]}
    # a purpose whose rules name no basis has none in the export either
    assert list(graph.objects(node(open_e, "handling/website_improvement"), DPV.hasLegalBasis)) == []


def test_dpv_context_is_inline_so_nothing_is_fetched(open_e):
    doc = json.loads(exports.dpv_jsonld(open_e))
    assert isinstance(doc["@context"], dict) and doc["@context"]["dpv"] == "https://w3id.org/dpv#"


def test_fideslang_keys_hang_under_the_default_taxonomy(open_e):
    keys = taxonomy_keys()
    doc = yaml.safe_load(exports.fideslang_yaml(open_e))
    assert set(doc) == {"data_category", "data_use", "system"}
    for kind in ("data_category", "data_use"):
        for entry in doc[kind]:
            assert entry["parent_key"] in keys, entry
            assert entry["fides_key"].startswith(entry["parent_key"] + "."), entry
            assert entry["fides_key"] not in keys and entry["name"]
    parents = {e["name"]: e["parent_key"] for e in doc["data_category"]}
    assert parents["E-mail address"] == "user.contact.email"
    assert parents["IP address"] == "user.device.ip_address"
    assert parents["Analytics cookies"] == "user.device.cookie"  # a child takes its parent's key
    uses = {e["fides_key"]: e["parent_key"] for e in doc["data_use"]}
    assert uses["marketing.communications.email.marketing_newsletter"] == "marketing.communications.email"
    assert uses["essential.legal_obligation.legal_compliance"] == "essential.legal_obligation"


def test_fideslang_declarations_name_defined_keys(open_e):
    doc = yaml.safe_load(exports.fideslang_yaml(open_e))
    categories = {e["fides_key"] for e in doc["data_category"]}
    uses = {e["fides_key"] for e in doc["data_use"]}
    (system,) = doc["system"]
    declarations = system["privacy_declarations"]
    assert {d["data_use"] for d in declarations} <= uses
    assert all(set(d["data_categories"]) <= categories for d in declarations)
    marketing = [d for d in declarations if d["name"] == "Marketing"]
    assert marketing == [{"name": "Marketing", "data_use": "marketing.marketing", "data_categories":
                          ["user.contact.email.email"], "data_subjects": [], "legal_basis_for_processing": "Consent",
                          "third_parties": marketing[0]["third_parties"]}]
    assert {d.get("legal_basis_for_processing") for d in declarations} <= {
        None, "Consent", "Contract", "Legal obligations", "Vital interests", "Public interest",
        "Legitimate interests"}


def test_cli_export(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["export", str(OPEN_E), "--format", "dpv"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["@graph"]
    out = tmp_path / "open_e.yml"
    result = runner.invoke(cli, ["export", str(OPEN_E), "--format", "fideslang", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["system"]
    assert runner.invoke(cli, ["export", str(OPEN_E)]).exit_code == 2  # --format is required
