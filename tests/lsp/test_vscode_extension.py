"""The VS Code extension under editors/vscode/: its manifest points at files that exist and
starts `policy-engine lsp`; and, where npm is installed, it really builds into a .vsix holding
the project's one TextMate grammar."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
EXTENSION = EDITORS / "vscode"
MANIFEST = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))


def test_the_manifest_contributes_the_language_its_grammar_and_a_client() -> None:
    (language,) = MANIFEST["contributes"]["languages"]
    assert language["id"] == "policy" and language["extensions"] == [".policy"]
    config = json.loads((EXTENSION / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"] == {"lineComment": "#"}
    (grammar,) = MANIFEST["contributes"]["grammars"]
    shipped = json.loads((EDITORS / "policy.tmLanguage.json").read_text(encoding="utf-8"))
    assert grammar["language"] == "policy" and grammar["scopeName"] == shipped["scopeName"]
    # The packed grammar is a copy of editors/policy.tmLanguage.json, made by the prepublish step.
    assert grammar["path"] == "./syntaxes/policy.tmLanguage.json"
    assert "copy-grammar.js" in MANIFEST["scripts"]["vscode:prepublish"]
    assert (EXTENSION / MANIFEST["main"]).is_file()
    assert "vscode-languageclient" in MANIFEST["dependencies"]
    client = (EXTENSION / MANIFEST["main"]).read_text(encoding="utf-8")
    assert 'args: ["lsp"]' in client and "TransportKind.stdio" in client
    assert MANIFEST["engines"]["vscode"].startswith("^1.")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None or shutil.which("npx") is None, reason="npm is not installed")
def test_the_extension_builds_into_a_vsix(tmp_path: Path) -> None:
    work = tmp_path / "editors"
    shutil.copytree(EXTENSION, work / "vscode", ignore=shutil.ignore_patterns("node_modules", "syntaxes", "*.vsix"))
    shutil.copy(EDITORS / "policy.tmLanguage.json", work / "policy.tmLanguage.json")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false"}
    folder = work / "vscode"
    # npm install needs the registry: when it cannot be reached (or does not answer in time) the
    # build cannot be tried here, which says nothing of the extension. Packaging itself must work.
    try:
        fetched = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install did not finish within 240 s (the npm registry is slow or unreachable)")
    if fetched.returncode != 0:
        pytest.skip(f"npm install failed, so the packager is not here:\n{fetched.stderr[-2000:]}")
    packed = subprocess.run(["npx", "--no-install", "vsce", "package", "--allow-missing-repository", "--out",
                             "policy-language.vsix"], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=240, stdin=subprocess.DEVNULL)
    assert packed.returncode == 0, f"vsce package failed:\n{packed.stdout}\n{packed.stderr}"
    with zipfile.ZipFile(folder / "policy-language.vsix") as vsix:
        names = set(vsix.namelist())
        assert {"extension/package.json", "extension/extension.js", "extension/language-configuration.json",
                "extension/syntaxes/policy.tmLanguage.json"} <= names
        assert "extension/node_modules/vscode-languageclient/package.json" in names
        assert not any(n.startswith("extension/scripts/") for n in names)
        packed = json.loads(vsix.read("extension/syntaxes/policy.tmLanguage.json"))
    assert packed == json.loads((EDITORS / "policy.tmLanguage.json").read_text(encoding="utf-8"))
