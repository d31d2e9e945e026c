"""The playground's JSON endpoints over real HTTP: the page and its assets, the check (the
checker's codes and places, highlighting, the words for the question), decisions in sentences
with the deciding lines, the diff against the file on disk, the document and the data map; and
the same app mounted by `policy-engine serve` at /playground. The file on disk is never written."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from policy_engine.lsp.analysis import analyse_text
from tests.playground.conftest import STEP6, Playground  # noqa: F401  (fixtures come from conftest)

TEXT = STEP6.read_text(encoding="utf-8")
TYPO = TEXT.replace("    for marketing\n    if", "    for marketting\n    if")


def post(pg: Playground, path: str, **payload: object) -> httpx.Response:
    return httpx.post(pg.url + path, json=payload, timeout=60)


def test_the_page_and_every_asset_come_from_the_package(playground: Playground) -> None:
    page = httpx.get(playground.url, timeout=30)
    assert page.status_code == 200 and "policy-engine playground" in page.text
    for asset in ("static/app.js", "static/app.css"):
        assert f'"{asset}"' in page.text
        assert httpx.get(playground.url + asset, timeout=30).status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN, nothing from elsewhere
    start = httpx.get(playground.url + "api/policy", timeout=30).json()
    assert start == {"path": start["path"], "text": TEXT, "on_disk": True} and start["path"].endswith("marketing.policy")


def test_check_gives_the_checkers_diagnostics_tokens_and_vocabulary(playground: Playground) -> None:
    result = post(playground, "api/check", text=TYPO).json()
    expected = analyse_text(TYPO).diagnostics
    assert [(d["code"], d["line"], d["column"]) for d in result["diagnostics"]] == \
        [(d.code, d.line, d.column) for d in expected]
    unknown = next(d for d in result["diagnostics"] if d["code"] == "check.unknown_term")
    assert TYPO[unknown["start"]:unknown["end"]] == "marketting"
    assert unknown["fixes"] == ["marketing", "marketing.newsletter"]
    assert result["errors"] == 1 and not result["ok"]
    keywords = {TYPO[a:b] for a, b, c in result["tokens"] if c == "k"}
    assert {"policy", "data", "section", "allow", "expect"} <= keywords
    assert [c for a, b, c in result["tokens"] if TYPO[a:b].startswith("# ")][:1] == ["c"]
    assert result["vocabulary"]["fact"] == [
        {"id": "newsletter_form", "label": "Subscribed through the website form"},
        {"id": "notification_settings", "label": "Configured the Notification and Newsletter settings in the Open-E account"}]
    broken = post(playground, "api/check", text=TEXT + "section \"x\"\n").json()
    assert broken["vocabulary"] is None and broken["diagnostics"][0]["code"].startswith("parse.")


def test_a_question_is_answered_in_sentences_with_the_deciding_lines(playground: Playground) -> None:
    query = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing.newsletter", "facts": None}
    result = post(playground, "api/decide", text=TEXT, query=query).json()
    assert result["decision"] == "conditional"
    assert result["headline"] == ("Only if “Subscribed through the website form” or “Configured the Notification and "
                                  "Newsletter settings in the Open-E account”.")
    rule_line = TEXT[: TEXT.index("  allow use of email")].count("\n") + 1
    assert [r["line"] for r in result["rules"]] == [rule_line]
    assert "Answer: allowed only if newsletter_form or notification_settings." in result["explanation"]
    closed = post(playground, "api/decide", text=TEXT, query={**query, "facts": []}).json()
    assert closed["decision"] == "deny" and closed["headline"].startswith("No: this is not allowed.")
    forum = post(playground, "api/decide", text=TEXT, query={**query, "source": "forum", "facts": []}).json()
    assert forum["decision"] == "deny" and forum["rules"][0]["effect"] == "deny"
    bad = post(playground, "api/decide", text=TEXT, query={"action": "use", "data": "emial", "purpose": "marketing"})
    assert bad.status_code == 422 and "emial" in bad.json()["error"]
    typo = post(playground, "api/decide", text=TYPO, query=query)
    assert typo.status_code == 422 and "marketting" in typo.json()["error"]


def test_a_transfer_question_names_its_destination_from_the_policys_regions(playground: Playground) -> None:
    github = (Path(__file__).resolve().parents[2] / "policies" / "github.policy").read_text(encoding="utf-8")
    regions = post(playground, "api/check", text=github).json()["vocabulary"]["region"]
    assert {"id": "region.us", "label": "The United States"} in regions
    assert post(playground, "api/check", text=TEXT).json()["vocabulary"]["region"] == []  # the form hides it
    query = {"action": "share", "data": "email", "recipient": "partner_reseller", "destination": "region.us",
             "facts": ["resident.eea"]}
    denied = post(playground, "api/decide", text=github, query=query).json()
    assert denied["decision"] == "deny"
    transfer = {"action": "share", "data": "usage", "purpose": "business_operations", "recipient": "affiliate",
                "destination": "region.us", "facts": ["resident.uk"]}
    sent = post(playground, "api/decide", text=github, query=transfer).json()
    assert sent["decision"] == "allow"
    assert "International data transfers" in {r["section"] for r in sent["rules"]}  # the destination decided too
    kept = post(playground, "api/decide", text=github, query={**transfer, "destination": ""}).json()  # "(not said)"
    assert kept["decision"] == "allow" and "International data transfers" not in {r["section"] for r in kept["rules"]}
    bad = post(playground, "api/decide", text=github, query={**query, "destination": "region.mars"})
    assert bad.status_code == 422 and "region.mars" in bad.json()["error"]


def test_diff_says_in_words_what_the_edit_changed_and_the_file_stays_as_it_was(
        playground: Playground, policy_file: Path) -> None:
    same = post(playground, "api/diff", text=TEXT).json()
    assert same["changed"] is False
    wider = TEXT.replace("    if newsletter_form or notification_settings\n", "")
    result = post(playground, "api/diff", text=wider).json()
    assert result["changed"] is True and result["widened"] >= 1 and result["narrowed"] == 0
    assert "WIDENED" in result["text"] and "was allowed only if newsletter_form or notification_settings" in result["text"]
    assert policy_file.read_text(encoding="utf-8") == TEXT


def test_document_and_data_map(playground: Playground) -> None:
    html = post(playground, "api/render", text=TEXT).json()["html"]
    assert "<html" in html and "Open-E Privacy Policy" in html
    drawn = post(playground, "api/map", text=TEXT, data="email").json()
    assert drawn["data"] == "email" and drawn["svg"].startswith("<svg")
    for label in ("E-mail address", "Contacting us", "Marketing"):
        assert label in drawn["svg"]
    assert "Open-E Forum" not in drawn["svg"]  # nothing at all is allowed for the forum's e-mail
    collected, used = drawn["svg"].split("Used for")
    assert "(none: the policy allows nothing here)" in collected  # no rule allows collecting it
    assert "stroke-dasharray" in drawn["svg"] and 'class="edge conditional"' in drawn["svg"]


@pytest.mark.parametrize(("body", "status"), [(b"not json", 400), (b'{"text": 3}', 400), (b"[]", 400)])
def test_bad_requests_get_a_message_not_a_traceback(playground: Playground, body: bytes, status: int) -> None:
    response = httpx.post(playground.url + "api/check", content=body, timeout=30)
    assert response.status_code == status and "text" in response.json()["error"]


class Serve:
    """`policy-engine serve POLICY --port P ARGS...` on loopback, stopped on exit."""

    def __init__(self, tmp_path: Path, *args: str):
        exe = shutil.which("policy-engine", path=str(Path(sys.executable).parent))
        assert exe is not None
        self.policy = tmp_path / "marketing.policy"
        self.policy.write_text(TEXT, encoding="utf-8")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.err_path = tmp_path / "serve.err"
        self.err = self.err_path.open("wb")
        self.proc = subprocess.Popen([exe, "serve", str(self.policy), "--port", str(port), "--no-decision-log", *args],
                                     stdout=self.err, stderr=self.err, stdin=subprocess.DEVNULL,
                                     env={**os.environ, "XDG_STATE_HOME": str(tmp_path)})
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> "Serve":
        deadline = time.monotonic() + 60  # a bound on start-up
        while True:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, self.err_path.read_text()
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def test_serve_mounts_the_playground(tmp_path: Path) -> None:
    with Serve(tmp_path) as srv:
        url = srv.url
        redirect = httpx.get(url + "/playground", timeout=30)
        assert redirect.status_code in (307, 302) and redirect.headers["location"].endswith("playground/")
        assert "policy-engine playground" in httpx.get(url + "/playground/", timeout=30).text
        assert httpx.get(url + "/playground/static/app.js", timeout=30).status_code == 200
        checked = httpx.post(url + "/playground/api/check", json={"text": TYPO}, timeout=30).json()
        assert "check.unknown_term" in [d["code"] for d in checked["diagnostics"]]
        assert httpx.get(url + "/playground/api/policy", timeout=30).json()["text"] == TEXT


def test_a_server_that_asks_for_tokens_offers_no_playground(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("a-token-for-tests\n", encoding="utf-8")
    with Serve(tmp_path, "--token-file", str(tokens)) as srv:
        assert httpx.get(srv.url + "/playground/", timeout=30).status_code == 404
        assert httpx.post(srv.url + "/playground/api/check", json={"text": TEXT}, timeout=30).status_code == 404
