"""The record of processing activities (GDPR Art. 30(1)): one row per purpose, from the engine."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from policy_engine import api
from policy_engine.cli.app import cli
from policy_engine.render import ropa, ropa_writers

from paths import OPEN_E


SHOP = '''policy "Shop"
  controller "Shop Ltd."
  contact "privacy@shop.example"

data email "E-mail address"
data name "Name"
source checkout "Checkout"
source forum "Forum"
purpose orders "Process your orders"
purpose marketing "Marketing"
purpose marketing.newsletter "Newsletter"
purpose unused "A purpose nothing is allowed for"
recipient courier "Courier"
recipient ads "Advertisers"
fact opt_in "Ticked the newsletter box"

section "S":
  allow use of email, name from checkout for orders basis contract
  allow use of email from checkout for marketing if opt_in basis consent
  deny use of email from forum for marketing
  allow share of name with courier basis contract
  allow share of email with ads if opt_in basis consent
  retention of email: "two years"
  security "encryption"
'''


@pytest.fixture(scope="module")
def shop():
    return ropa.record(api.loads(SHOP, "shop.policy"))


def by_purpose(rec: ropa.Record) -> dict[str, ropa.Activity]:
    return {a.purpose_id: a for a in rec.activities}


def test_one_row_per_purpose_with_something_allowed(shop):
    rows = by_purpose(shop)
    assert list(rows) == ["orders", "marketing", "marketing.newsletter"]  # not `unused`


def test_a_row_holds_what_the_engine_allows_for_the_purpose(shop):
    orders = by_purpose(shop)["orders"]
    assert orders.purpose == "Process your orders"
    assert orders.data == ["E-mail address", "Name"]
    assert orders.data_subjects == ["Checkout"]
    assert orders.legal_basis == ["contract (Art. 6(1)(b))"]
    assert orders.conditions == []
    assert orders.recipients == ["Courier", "Advertisers (only if “Ticked the newsletter box”)"]
    assert orders.retention == ["E-mail address: two years"]
    assert orders.security == ["encryption"]
    assert (orders.controller, orders.contact) == ("Shop Ltd.", "privacy@shop.example")
    rule = "  allow use of email, name from checkout for orders basis contract"
    assert orders.rules == [SHOP.splitlines().index(rule) + 1]


def test_a_narrower_purpose_inherits_the_broader_ones_row(shop):
    rows = by_purpose(shop)
    for key in ("marketing", "marketing.newsletter"):
        row = rows[key]
        assert row.data == ["E-mail address"] and row.data_subjects == ["Checkout"]
        assert row.legal_basis == ["consent (Art. 6(1)(a))"]
        assert row.conditions == ["“Ticked the newsletter box”"]


def test_what_the_language_cannot_state_is_said_in_words(shop):
    row = shop.activities[0]
    assert row.transfers == ropa.NOT_STATABLE_TRANSFERS and "states no transfer" in row.transfers
    assert row.dpo == ropa.NOT_STATED_DPO and "data protection officer" in row.dpo


def test_csv_has_the_art30_columns_and_one_row_per_activity(shop):
    rows = list(csv.reader(io.StringIO(ropa_writers.to_csv(shop))))
    assert rows[0] == [header for _, header in ropa.COLUMNS]
    assert len(rows) == 1 + len(shop.activities)
    assert rows[1][:5] == ["Process your orders", "orders", "Checkout", "E-mail address; Name",
                           "contract (Art. 6(1)(b))"]


def test_xlsx_reads_back_the_same_cells(shop):
    book = load_workbook(io.BytesIO(ropa_writers.to_xlsx(shop)))
    sheet = book["Records of processing"]
    values = [[c.value or "" for c in row] for row in sheet.iter_rows()]
    assert values[0] == [header for _, header in ropa.COLUMNS]
    assert values[1:] == [a.cells() for a in shop.activities]
    assert sheet.freeze_panes == "B2"


def test_json_and_html_carry_every_activity(shop):
    data = json.loads(ropa_writers.to_json(shop))
    assert data["article"] == "GDPR Art. 30(1)"
    assert [a["purpose_id"] for a in data["activities"]] == ["orders", "marketing", "marketing.newsletter"]
    page = ropa_writers.to_html(shop)
    assert page.startswith("<!DOCTYPE html>") and page.count('<tr id="purpose-') == 3
    assert "<li>Advertisers (only if “Ticked the newsletter box”)</li>" in page


def test_open_e_record(open_e):
    rec = ropa.record(open_e)
    rows = by_purpose(rec)
    assert len(rows) == 29
    marketing = rows["marketing"]
    assert marketing.data == ["E-mail address"]
    assert marketing.legal_basis == ["consent (Art. 6(1)(a))"]
    assert marketing.conditions == ["“Subscribed through the website form” or “Configured the Notification and "
                                    "Newsletter settings in the Open-E account”"]
    # the forum's and blog's e-mail addresses are never used for marketing: not data subjects of it
    assert marketing.data_subjects == ["Contacting us: e-mail, online forms, newsletters, a webinar, free trial "
                                       "products, a regular account"]
    assert rows["publishing"].recipients[-1] == "Anyone, even without an account"
    assert rows["accounting"].data[0] == "E-mail address (kept only)"
    assert rows["legal_compliance"].legal_basis == ["legal obligation (Art. 6(1)(c))"]
    # Open-E's four kinds of service provider, under their group
    assert rows["order_processing"].recipients[0] == (
        "Third-party companies providing services on our behalf: Order fulfillment, Payment processing, Customer "
        "service (Smart Receptionist, Cleverbridge, Credit Card companies, Live Chat), E-mail delivery")
    assert {a.controller for a in rec.activities} == {
        "Open-E Inc., 2853 Wendy Springs Court, Marietta, GA 30062, United States of America"}
    assert {tuple(a.security) for a in rec.activities} == {("encryption", "passwords", "physical security tools")}


# ---- the command ------------------------------------------------------------------------------


def test_cli_ropa_writes_each_format(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["ropa", str(OPEN_E)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("Purpose of the processing,Purpose id,")
    for fmt in ("xlsx", "html", "json", "csv"):
        out = tmp_path / f"ropa.{fmt}"
        result = runner.invoke(cli, ["ropa", str(OPEN_E), "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    assert load_workbook(tmp_path / "ropa.xlsx").active.max_row == 30


def test_cli_ropa_xlsx_to_a_pipe_is_the_workbook(tmp_path):
    proc = subprocess.run([str(Path(sys.executable).parent / "policy-engine"), "ropa", str(OPEN_E), "--format",
                           "xlsx"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:2] == b"PK"  # a zip: the workbook


def test_cli_ropa_refuses_a_policy_that_does_not_check(tmp_path):
    bad = tmp_path / "bad.policy"
    bad.write_text('section "S":\n  allow use of nothing_declared\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["ropa", str(bad)])
    assert result.exit_code == 4 and "check.unknown_term" in result.output  # EXIT_INVALID
    missing = CliRunner().invoke(cli, ["ropa", str(tmp_path / "missing.policy")])
    assert missing.exit_code == 2 and "missing.policy" in missing.output  # EXIT_USAGE: no such file


def test_the_dpo_statement_fills_the_dpo_column() -> None:
    from policy_engine import api

    text = ('policy "P"\n  controller "C"\ndata email "E"\npurpose orders "Orders"\n'
            'section "S":\n  allow use of email for orders basis contract\n  dpo "dpo@example.com"\n')
    (row,) = ropa.record(api.loads(text, "p.policy")).activities
    assert row.dpo == "dpo@example.com"
