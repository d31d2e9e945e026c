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
    for cmd in (["npm", "install", "--no-audit", "--no-fund"], ["npx", "vsce", "package", "--allow-missing-repository",
                                                               "--out", "policy-language.vsix"]):
        proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    with zipfile.ZipFile(folder / "policy-language.vsix") as vsix:
        names = set(vsix.namelist())
        assert {"extension/package.json", "extension/extension.js", "extension/language-configuration.json",
                "extension/syntaxes/policy.tmLanguage.json"} <= names
        assert "extension/node_modules/vscode-languageclient/package.json" in names
        assert not any(n.startswith("extension/scripts/") for n in names)
        packed = json.loads(vsix.read("extension/syntaxes/policy.tmLanguage.json"))
    assert packed == json.loads((EDITORS / "policy.tmLanguage.json").read_text(encoding="utf-8"))
