"""Transfers on the command line, through the installed console script: `--destination` on
`decide` and `explain` (and in `--query` and `--batch` JSON), `map transfers`, and `rights`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import policy_engine

from paths import REPO

SCRIPT = Path(sys.executable).parent / "policy-engine"
GITHUB = "policies/github.policy"
TRANSFER = {"action": "share", "data": "account", "recipient": "service_provider", "destination": "region.us",
            "facts": ["resident.eea"]}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, input=stdin, cwd=REPO, timeout=120)


def test_destination_flag_builds_the_same_query_as_the_json():
    flags = run("decide", GITHUB, "--action", "share", "--data", "account", "--recipient", "service_provider",
                "--destination", "region.us", "--fact", "resident.eea")
    query = run("decide", GITHUB, "--query", json.dumps(TRANSFER))
    assert flags.returncode == query.returncode == 0, flags.stderr
    assert json.loads(flags.stdout) == json.loads(query.stdout)
    library = policy_engine.load(REPO / GITHUB)
    assert [r["safeguard"] for r in json.loads(query.stdout)["reasons"] if "safeguard" in r] == \
        [r.safeguard for r in library.decide(TRANSFER).reasons if r.safeguard]


def test_an_unknown_region_is_a_one_line_error_exit_2():
    result = run("decide", GITHUB, "--action", "share", "--data", "account", "--recipient", "service_provider",
                 "--destination", "region.usa")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("policy-engine: query.unknown_term: unknown region `region.usa` (did you mean "
                             "`region.us` or `region.uk` or `region.eea`?)\n")


def test_a_batch_answers_each_destination():
    lines = [json.dumps({**TRANSFER, "destination": d}) for d in ("region.us", "region.eea", "region.mars")]
    result = run("decide", GITHUB, "--batch", "-", stdin="\n".join(lines) + "\n")
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a.get("decision") or a["error"]["code"] for a in answers] == ["allow", "allow", "query.unknown_term"]
    assert any(r.get("safeguard") for r in answers[0]["reasons"])
    assert not any(r.get("safeguard") for r in answers[1]["reasons"])


def test_explain_and_map_put_transfers_in_words():
    explained = run("explain", GITHUB, "--action", "share", "--data", "account", "--recipient", "service_provider",
                    "--destination", "region.us", "--fact", "resident.eea")
    assert explained.returncode == 0
    assert "The transfer to region.us relies on standard_contractual_clauses and " \
           "certification.data_privacy_framework." in explained.stdout
    mapped = run("map", GITHUB, "transfers")
    assert mapped.returncode == 0
    assert mapped.stdout.splitlines()[0].startswith(
        "all data shared with service_provider in region.us under standard_contractual_clauses, only if")
    as_json = json.loads(run("map", GITHUB, "transfers", "--format", "json").stdout)
    assert {t["safeguard"] for t in as_json} == {"standard_contractual_clauses", "certification.data_privacy_framework"}
    assert all(t["destinations"] == ["region.us"] for t in as_json)
