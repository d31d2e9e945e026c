"""GDPR Art. 13/14 completeness: the `art13.*` lint codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from policy_engine.cli.app import cli
from policy_engine.guard.completeness import CANNOT, CODES
from policy_engine.guard.lint import lint
from policy_engine.engine.loader import load_text

from paths import OPEN_E


BARE = '''data email "E-mail address"
purpose orders "Orders"
section "S":
  allow use of email for orders
'''

COMPLETE = '''policy "Shop"
  controller "Shop Ltd., 1 Main Street"
  contact "privacy@shop.example"

data email "E-mail address"
purpose orders "Orders"
purpose marketing "Marketing"
recipient courier "Courier"
fact opt_in "Ticked the box"

section "S":
  allow use of email for orders basis contract
  allow use of email for marketing if opt_in basis consent
  allow share of email with courier basis contract
  retention of all data: "two years"
  right access via "privacy@shop.example"
  right rectification via "privacy@shop.example"
  right erasure via "privacy@shop.example"
  right restriction via "privacy@shop.example"
  right portability via "privacy@shop.example"
  right objection via "privacy@shop.example"
  right withdraw_consent via "the link in every e-mail"
  right complaint via "the Information Commissioner's Office"
  dpo "dpo@shop.example"
'''


def art13(text: str, path: str = "shop.policy") -> list:
    return [f for f in lint(load_text(text, path), completeness=True) if f.code.startswith("art13.")]


def test_codes_are_described_and_off_by_default():
    assert all(code.startswith("art13.") and text.endswith(".") for code, text in CODES.items())
    assert not [f for f in lint(load_text(BARE)) if f.code.startswith("art13.")]


def test_a_bare_policy_misses_every_item():
    codes = [f.code for f in art13(BARE)]
    for code in ("art13.controller", "art13.contact", "art13.dpo", "art13.purpose_basis", "art13.recipients",
                 "art13.transfers", "art13.retention", "art13.complaint", "art13.automated_decisions"):
        assert code in codes, code
    assert codes.count("art13.right") == 6  # access, rectification, erasure, restriction, portability, objection
    basis = next(f for f in art13(BARE) if f.code == "art13.purpose_basis")
    assert basis.diagnostic.message.startswith("purpose `orders` is allowed without a legal basis")
    assert basis.diagnostic.help == "add `basis ...` to the rules allowing `orders` (policy lines 4)"


def test_a_complete_policy_leaves_only_what_the_language_cannot_state():
    findings = art13(COMPLETE)
    assert sorted(f.code for f in findings) == ["art13.automated_decisions", "art13.transfers"]
    by_code = {f.code: f for f in findings}
    assert CANNOT in by_code["art13.automated_decisions"].diagnostic.message
    # transfers the language states (`in REGION under SAFEGUARD`); this policy states none
    assert "in REGION under SAFEGUARD" in (by_code["art13.transfers"].diagnostic.help or "")
    assert all(f.diagnostic.severity.value == "warning" for f in findings)


def test_consent_without_a_way_to_withdraw_it():
    text = COMPLETE.replace('  right withdraw_consent via "the link in every e-mail"\n', "")
    (finding,) = [f for f in art13(text) if f.code == "art13.withdraw_consent"]
    assert finding.diagnostic.line == 13  # the first rule relying on consent
    without_consent = text.replace("  allow use of email for marketing if opt_in basis consent\n", "")
    assert not [f for f in art13(without_consent) if f.code == "art13.withdraw_consent"]


def test_legitimate_interests_name_their_purposes():
    text = COMPLETE.replace("allow use of email for orders basis contract",
                            "allow use of email for orders basis legitimate_interests")
    (finding,) = [f for f in art13(text) if f.code == "art13.legitimate_interests"]
    assert CANNOT in finding.diagnostic.message and "`orders`" in finding.diagnostic.help


def test_open_e_findings(open_e):
    findings = [f for f in lint(open_e, completeness=True) if f.code.startswith("art13.")]
    codes = sorted({f.code for f in findings})
    assert codes == ["art13.automated_decisions", "art13.complaint", "art13.dpo", "art13.legitimate_interests",
                     "art13.purpose_basis", "art13.right", "art13.transfers", "art13.withdraw_consent"]
    rights = sorted(f.diagnostic.message for f in findings if f.code == "art13.right")
    assert rights == ["the right of objection (Art. 21; GDPR Art. 13(2)(b)) is not stated",
                      "the right of restriction (Art. 18; GDPR Art. 13(2)(b)) is not stated"]
    withdraw = next(f for f in findings if f.code == "art13.withdraw_consent")
    assert "`right unsubscribe` covers newsletters only" in withdraw.diagnostic.message
    # the purposes of the Website, Forum, Blog and Cookies sections, whose rules name no basis
    assert [f.diagnostic.message.split("`")[1] for f in findings if f.code == "art13.purpose_basis"] == [
        "website_improvement", "product_development", "personalization", "inquiry_response", "service_updates",
        "promotion_management", "identity_verification", "crime_prevention", "publishing", "comment_follow_up",
        "abuse_prevention", "analytics", "social_media_features", "essential_service", "preferences"]


def test_cli_lint_completeness(tmp_path):
    policy = tmp_path / "shop.policy"
    policy.write_text(COMPLETE, encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(cli, ["lint", str(policy)])
    assert "art13." not in plain.output
    result = runner.invoke(cli, ["lint", "--completeness", "--format", "json", str(policy)])
    assert result.exit_code == 0, result.output
    codes = sorted(f["code"] for f in json.loads(result.output)["findings"])
    assert codes == ["art13.automated_decisions", "art13.transfers"]
    sarif = json.loads(runner.invoke(cli, ["lint", "--completeness", "--format", "sarif", str(policy)]).output)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["art13.transfers"]["shortDescription"]["text"] == CODES["art13.transfers"]


def test_a_dpo_statement_and_an_authority_are_items_stated() -> None:
    text = ('policy "P"\n  controller "C"\n  contact "c@example.com"\n'
            'data email "E"\nrecipient partner "P"\n'
            'section "S":\n  allow share of email with partner basis contract\n'
            '  dpo "dpo@example.com"\n  authority "the local data protection authority"\n')
    codes = {f.code for f in art13(text)}
    assert "art13.dpo" not in codes and "art13.complaint" not in codes
    without = text.replace('  dpo "dpo@example.com"\n', "")
    assert "art13.dpo" in {f.code for f in art13(without)}
