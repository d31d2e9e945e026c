"""The GitHub integration: `action.yml` and `examples/github-workflow.yml` validated against
the workflow and action schemas (SchemaStore's, vendored by check-jsonschema; actionlint
cannot be installed here: its PyPI package downloads the binary from GitHub at build time),
the rules the issue names checked one by one, and the action's shell steps run for real in
a scratch git repository: a base commit, a head commit that widens the Open-E policy, a
decision log written by the server's own writer. Only `gh` is replaced, by a script that
records its arguments and the comment it was given (there is no GitHub to post to).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policy_engine import api
from policy_engine.server.decision_log import SqliteDecisionLog
from policy_engine.server.encode import Encoder
from action_runner import run_action  # tests/cli/action_runner.py

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
WORKFLOW = REPO / "examples" / "github-workflow.yml"
BIN = Path(sys.executable).parent
CHECK_JSONSCHEMA = shutil.which("check-jsonschema", path=str(BIN))
GIT_ENV = {"GIT_AUTHOR_NAME": "Policy Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
           "GIT_COMMITTER_NAME": "Policy Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
LABEL = "privacy-widening-approved"
PARTNER = "    with business_partner\n    if partner_inquiry\n"


def widen(text: str) -> str:
    """The pull request: business partners get contact details without an inquiry (the
    expectations that asserted the condition go with it, so the tests still pass)."""
    out = text.replace(PARTNER, "    with business_partner\n", 1)
    out = out.replace("  expect conditional: share of email with business_partner\n    requires partner_inquiry\n", "", 1)
    out = out.replace("  no share with business_partner unless partner_inquiry\n", "", 1)
    assert out.count("\n") == text.count("\n") - 4, "the business-partner rule of open_e.policy changed"
    return out


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(CHECK_JSONSCHEMA is None, reason="check-jsonschema is not installed (dev dependency)")
@pytest.mark.parametrize("path, schema", [(ACTION, "vendor.github-actions"), (WORKFLOW, "vendor.github-workflows")])
def test_the_action_and_the_workflow_match_githubs_schemas(path, schema):
    proc = subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", schema, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_workflow_reruns_on_labels_and_uses_the_action():
    wf = load(WORKFLOW)
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as true
    assert {"opened", "synchronize", "reopened", "labeled", "unlabeled"} <= set(on["pull_request"]["types"])
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write",
                                 "actions": "read"}
    steps = wf["jobs"]["guardrails"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
    [guard] = [s for s in steps if s.get("uses", "").split("@")[0].endswith("/policy-engine")]
    assert guard["with"]["decision-log"] == "${{ steps.log.outputs.path }}"  # the replay step's artifact
    assert set(guard["with"]) <= set(load(ACTION)["inputs"])


def test_the_action_uploads_sarif_v4_and_comments_only_with_a_token_that_can_write():
    steps = load(ACTION)["runs"]["steps"]
    [sarif] = [s for s in steps if "upload-sarif" in s.get("uses", "")]
    assert sarif["uses"] == "github/codeql-action/upload-sarif@v4"
    [comment] = [s for s in steps if "gh pr comment" in s.get("run", "")]
    assert "--edit-last --create-if-none" in comment["run"]
    for step in (sarif, comment):
        assert "steps.access.outputs.can-write == 'true'" in step["if"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert '"$GITHUB_ACTION_PATH"' in install["run"]  # from the action's own checkout, not an index


@pytest.fixture
def scratch(tmp_path):
    """A git repository with the Open-E policy at the base and the widening edit at the head, and
    a decision log of the base policy's answers."""
    repo = tmp_path / "repo"
    (repo / "policies").mkdir(parents=True)
    text = (REPO / "policies" / "open_e.policy").read_text(encoding="utf-8")
    policy_file = repo / "policies" / "open_e.policy"
    policy_file.write_text(text, encoding="utf-8")
    env = {**os.environ, **GIT_ENV}

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, timeout=60)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    git("update-ref", "refs/remotes/origin/main", "HEAD")  # what actions/checkout fetches as the base
    git("checkout", "-q", "-b", "widen")
    policy_file.write_text(widen(text), encoding="utf-8")
    git("commit", "-q", "-am", "share contact details with business partners without an inquiry")
    log = tmp_path / "decisions.sqlite3"
    base = api.loads(text, "policies/open_e.policy")
    sink = SqliteDecisionLog(log, batch_size=64, flush_interval=0.01).start()
    encode = Encoder()
    for query, times in (({"action": "share", "data": "email", "recipient": "business_partner", "facts": []}, 30),
                         ({"action": "use", "data": "email", "source": "contact", "purpose": "marketing"}, 70)):
        for _ in range(times):
            sink.record(query, encode(base.decide(query)), 0.00003)
    sink.close()
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "gh").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$FAKE_GH/args"\n'
                             'while [ $# -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "$FAKE_GH/body"; shift; done\n')
    (fake / "gh").chmod(0o755)
    return {"repo": repo, "log": log, "fake": fake, "tmp": tmp_path}


def run(scratch, labels=(), head_repo="acme/shop", policy_text=None, name="run", log=None):
    if policy_text is not None:
        (scratch["repo"] / "policies" / "open_e.policy").write_text(policy_text, encoding="utf-8")
    temp = scratch["tmp"] / name
    temp.mkdir()
    github = {"repository": "acme/shop", "base_ref": "main", "event": {"pull_request": {
        "number": 7, "head": {"repo": {"full_name": head_repo}}, "labels": [{"name": n} for n in labels]}}}
    runs = run_action(ACTION, {"install": "false", "decision-log": str(log or scratch["log"])}, github, scratch["repo"],
                      temp, [BIN, scratch["fake"]], {"FAKE_GH": str(temp)})
    return {r.name: r for r in runs}, temp


def test_a_widening_pull_request_gets_a_comment_and_fails_until_the_label(scratch):
    steps, temp = run(scratch)
    assert steps["Set up Python"].ran is False and steps["Install policy-engine from the action's checkout"].ran is False
    codes = {k: steps[k].outputs.get("exit") for k in ("Check", "Lint (code scanning)",
             "Test (expectations and invariants)", "Semantic diff against the base",
             "Replay the logged decisions under the new policy")}
    assert codes == {"Check": "0", "Lint (code scanning)": "0", "Test (expectations and invariants)": "0",
                     "Semantic diff against the base": "1", "Replay the logged decisions under the new policy": "1"}
    assert steps["Upload the lint findings"].ran is True  # same repository: the token can write
    json.loads((temp / "policy-engine" / "lint.sarif").read_text())
    assert (temp / "args").read_text().split() == ["pr", "comment", "7", "--body-file",
                                                  str(temp / "policy-engine" / "comment.md"), "--edit-last",
                                                  "--create-if-none"]
    body = (temp / "body").read_text()
    assert body.startswith("<!-- policy-engine guardrails -->\n## Privacy policy: what this change means")
    assert "**:warning: Widened:" in body and "business_partner" in body
    assert f"**Widening not approved yet**: a privacy reviewer accepts it with the label `{LABEL}`." in body
    assert "### Replay of logged decisions" in body and "30 decisions (30.0% of the traffic)" in body
    assert "| semantic diff | widened |" in body and "| check | passed |" in body
    assert body in (temp / "step-summary.md").read_text()
    last = steps["Fail on a problem or an unapproved widening"]
    assert last.exit == 1 and "::error title=policy widened::" in last.stdout

    approved, temp2 = run(scratch, labels=[LABEL, "docs"], name="labelled")
    assert approved["Fail on a problem or an unapproved widening"].exit == 0
    assert "**Widening approved** with the label" in (temp2 / "body").read_text()


def test_a_fork_gets_no_comment_and_no_sarif_upload_but_the_same_verdict(scratch):
    steps, temp = run(scratch, head_repo="someone/shop")
    assert steps["Upload the lint findings"].ran is False
    assert steps["Comment on the pull request"].ran is False and not (temp / "args").exists()
    assert "Widened" in (temp / "step-summary.md").read_text()
    assert steps["Fail on a problem or an unapproved widening"].exit == 1


def test_a_policy_that_does_not_check_fails_even_with_the_label(scratch):
    broken = (scratch["repo"] / "policies" / "open_e.policy").read_text().replace("for marketing\n", "for marketting\n", 1)
    steps, temp = run(scratch, labels=[LABEL], policy_text=broken)
    assert steps["Check"].outputs["exit"] == "4" and steps["Semantic diff against the base"].outputs["exit"] == "4"
    assert "::error file=policies/open_e.policy" in steps["Check"].stdout
    verdict = steps["Verdict"]
    assert verdict.outputs["failed"] == "true"
    assert "::error title=policy-engine check::a policy does not check (exit 4)" in verdict.stdout
    body = (temp / "body").read_text()
    assert "The semantic diff could not run" in body and "marketting" in body
    assert "| check | a policy does not check |" in body
    assert steps["Fail on a problem or an unapproved widening"].exit == 1


def test_a_decision_log_that_cannot_be_read_is_shown_and_fails_the_job(scratch):
    steps, temp = run(scratch, labels=[LABEL], log=scratch["tmp"] / "no-such-log.sqlite3")
    assert steps["Replay the logged decisions under the new policy"].outputs["exit"] == "2"
    body = (temp / "body").read_text()
    assert "The replay of the decision log could not run" in body and "no decision log at" in body
    assert "| replay of logged decisions | usage error |" in body
    assert steps["Fail on a problem or an unapproved widening"].exit == 1
