"""Releases: one version everywhere (pyproject.toml, the package, the changelog, the `rev:` and
`uses:` that point other repositories at a release, every `v*` tag), and the pre-commit hooks
file: valid for pre-commit itself, each hook's entry a real command with real options, and the
`policy-diff` hook run as pre-commit runs it, on staged files in a scratch repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

import policy_engine
from policy_engine.cli.common import EXIT_OK, EXIT_WIDENED

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXE = shutil.which("policy-engine", path=str(BIN))
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
TAG = re.compile(r"^v0\.\d+\.\d+$")
GIT_ENV = {"GIT_AUTHOR_NAME": "Policy Tester", "GIT_AUTHOR_EMAIL": "tester@example.com",
           "GIT_COMMITTER_NAME": "Policy Tester", "GIT_COMMITTER_EMAIL": "tester@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def test_the_package_has_the_version_of_pyproject():
    assert re.fullmatch(r"0\.\d+\.\d+", VERSION)
    assert policy_engine.__version__ == VERSION == metadata.version("policy-engine")


def test_what_points_at_a_release_names_this_version_and_the_changelog_has_it():
    tag = f"v{VERSION}"
    hooks = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert re.findall(r"rev: (\S+)", hooks) == [tag]
    workflow = (REPO / "examples" / "github-workflow.yml").read_text(encoding="utf-8")
    assert re.findall(r"uses: \S+/policy-engine@(\S+)", workflow) == [tag]
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{VERSION}]")


def _git(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **GIT_ENV})


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="not a git checkout")
def test_every_release_tag_is_v0_x_y_and_carries_its_own_version():
    tags = [t for t in _git("tag", "--list", "v*").stdout.split() if t]
    for tag in tags:
        assert TAG.match(tag), f"{tag} is not a v0.x.y release tag"
        shown = _git("show", f"{tag}:pyproject.toml")
        assert shown.returncode == 0, shown.stderr
        assert tomllib.loads(shown.stdout)["project"]["version"] == tag[1:], tag


def hooks() -> list[dict]:
    return yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_pre_commit_accepts_the_hooks_file():
    exe = shutil.which("pre-commit", path=str(BIN))
    if exe is None:
        pytest.skip("pre-commit is not installed (dev dependency)")
    proc = subprocess.run([exe, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(EXE is None, reason="policy-engine is not installed beside this Python")
@pytest.mark.parametrize("hook", hooks(), ids=[h["id"] for h in hooks()])
def test_each_hook_runs_a_real_command_with_real_options(hook: dict):
    program, command, *options = hook["entry"].split()
    assert program == "policy-engine" and hook["language"] == "python" and hook["files"] == r"\.policy$"
    assert EXE is not None
    help_text = subprocess.run([EXE, command, "--help"], capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0, help_text.stderr
    for option in options:
        if option.startswith("-"):
            assert option in help_text.stdout, f"{hook['id']}: `{command}` has no option {option}"


@pytest.mark.skipif(EXE is None, reason="policy-engine is not installed beside this Python")
def test_the_diff_hook_stops_a_staged_widening_and_passes_a_clean_commit(tmp_path: Path):
    [hook] = [h for h in hooks() if h["id"] == "policy-diff"]
    repo = tmp_path / "repo"
    (repo / "policies").mkdir(parents=True)
    policy = repo / "policies" / "open_e.policy"
    text = (REPO / "policies" / "open_e.policy").read_text(encoding="utf-8")
    policy.write_text(text, encoding="utf-8")
    assert _git("init", "-q", cwd=repo).returncode == 0
    _git("add", ".", cwd=repo)
    assert _git("commit", "-q", "-m", "base", cwd=repo).returncode == 0

    def run_hook() -> subprocess.CompletedProcess[str]:  # as pre-commit runs it: entry + the staged file names
        staged = _git("diff", "--cached", "--name-only", cwd=repo).stdout.split()
        assert EXE is not None
        return subprocess.run([EXE, *hook["entry"].split()[1:], *staged], cwd=repo, capture_output=True,
                              text=True, timeout=120)

    policy.write_text(text.replace("\n    if partner_inquiry\n", "\n", 1), encoding="utf-8")
    _git("add", "policies/open_e.policy", cwd=repo)
    widened = run_hook()
    assert widened.returncode == EXIT_WIDENED, widened.stdout + widened.stderr
    assert "WIDENED" in widened.stdout and "business_partner" in widened.stdout

    policy.write_text(text.replace('"Marketing"\n', '"Marketing (newsletters and offers)"\n', 1), encoding="utf-8")
    _git("add", "policies/open_e.policy", cwd=repo)
    relabelled = run_hook()
    assert relabelled.returncode == EXIT_OK, relabelled.stdout + relabelled.stderr
    assert "no question's answer changed" in relabelled.stdout
