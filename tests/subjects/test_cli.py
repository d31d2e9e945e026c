"""`policy-engine subjects ...` and `retention due` through the installed console script, on a
real SQLite file and a real PostgreSQL database: JSON on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("policy-engine")
SHOP = str(Path(__file__).with_name("shop.policy"))
MARKETING = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}


def pe(store_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args, "--store", store_url], capture_output=True, text=True, timeout=120)


def test_record_show_decide_request_forget(store_url):
    r = pe(store_url, "subjects", "record", "4711", "--begin", "newsletter_form", "--at", "2026-01-01T00:00:00Z",
           "--channel", "web form", "--evidence", "mail 7", "--key", "k1", "--policy", SHOP)
    assert r.returncode == 0, r.stderr
    event = json.loads(r.stdout)
    assert event["policy_digest"].startswith("sha256:") and event["replayed"] is False
    assert json.loads(pe(store_url, "subjects", "record", "4711", "--begin", "newsletter_form", "--at",
                         "2026-01-01T00:00:00Z", "--channel", "web form", "--evidence", "mail 7", "--key", "k1",
                         "--policy", SHOP).stdout)["replayed"] is True
    assert pe(store_url, "subjects", "record", "4711", "--collected", "ip_address", "--source", "website",
              "--at", "2026-01-01T00:00:00Z").returncode == 0
    shown = json.loads(pe(store_url, "subjects", "show", "4711").stdout)
    assert len(shown["events"]) == 2 and shown["facts_now"][0]["event"] == event["id"]
    answer = json.loads(pe(store_url, "subjects", "decide", SHOP, "--query",
                           json.dumps({**MARKETING, "subject": "4711"})).stdout)
    assert answer["decision"] == "allow" and answer["evidence"][0]["event"] == event["id"]
    plan = json.loads(pe(store_url, "subjects", "request", "4711", "erasure", SHOP).stdout)
    assert plan["plan"]["plan"][0]["action"] == "delete_now"
    due = json.loads(pe(store_url, "retention", "due", SHOP).stdout)
    assert [(i["subject"], i["data"]) for i in due["items"]] == [("4711", "ip_address")]
    gone = pe(store_url, "subjects", "forget", "4711", "--request-id", "er-1")
    assert gone.returncode == 0 and json.loads(gone.stdout)["erased"] == 3
    replay = pe(store_url, "subjects", "record", "4711", "--begin", "newsletter_form", "--at", "2026-01-01T00:00:00Z")
    assert replay.returncode == 1 and "er-1" in replay.stderr and replay.stderr.count("\n") == 1


@pytest.mark.parametrize("args, code, message", [
    (("subjects", "decide", SHOP, "--query", json.dumps({**MARKETING, "subject": "1", "facts": []})), 2,
     "query.subject_and_facts"),
    (("subjects", "record", "1", "--begin", "newsletter", "--policy", SHOP), 2, "did you mean `newsletter_form`"),
    (("subjects", "record", "1", "--begin", "newsletter_form", "--at", "2026-01-01"), 2, "has no time zone"),
    (("subjects", "record", "1"), 2, "exactly one of"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, code, message):
    r = pe(str(tmp_path / "s.sqlite3"), *args)
    assert r.returncode == code and message in r.stderr and "Traceback" not in r.stderr


def test_an_unreachable_store_is_exit_1():
    from tests.subjects.pg import _free_port

    r = pe(f"postgresql://postgres@127.0.0.1:{_free_port()}/x", "subjects", "show", "1")
    assert r.returncode == 1 and r.stderr.startswith("policy-engine: subjects.unavailable:")


def test_a_rights_limit_and_a_right_not_held_are_one_line_and_exit_1(tmp_path):
    url, rights = str(tmp_path / "s.sqlite3"), str(Path(__file__).with_name("rights.policy"))
    for day in ("2026-01-01", "2026-02-01"):
        ok = pe(url, "subjects", "request", "9", "access", rights, "--received-at", f"{day}T00:00:00Z")
        assert ok.returncode == 0 and json.loads(ok.stdout)["response"]["deadline"] == "P1M"
    third = pe(url, "subjects", "request", "9", "access", rights, "--received-at", "2026-03-01T00:00:00Z")
    assert third.returncode == 1 and third.stderr.count("\n") == 1
    assert third.stderr.startswith("policy-engine: subject.request_limit (kind): the right `access` allows at most 2")
    assert "the next is possible from 2026-12-27T00:00:00Z" in third.stderr
    refused = pe(url, "subjects", "request", "9", "erasure", rights)
    assert refused.returncode == 1 and "subject.right_not_granted" in refused.stderr


def test_retention_due_within_days_lists_the_deadlines(tmp_path):
    url, timed = str(tmp_path / "s.sqlite3"), str(Path(__file__).with_name("timed.policy"))
    for subject, at in (("old", "2026-01-01T00:00:00Z"), ("new", "2026-03-01T00:00:00Z")):
        assert pe(url, "subjects", "record", subject, "--collected", "ip_address", "--source", "website",
                  "--at", at).returncode == 0
    r = pe(url, "retention", "due", timed, "--at", "2026-04-15T00:00:00Z", "--within-days", "60")
    out = json.loads(r.stdout)
    assert [(i["subject"], i["deadline"]) for i in out["items"]] == [("old", "2026-04-01T00:00:00Z")]
    assert [(i["subject"], i["deadline"]) for i in out["upcoming"]["items"]] == [("new", "2026-05-30T00:00:00Z")]
