"""The one loader: one digest recipe whichever way a policy arrives, and one parse per file."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from policy_engine import Policy, api
from policy_engine.engine import loader
from policy_engine.guard.workspace import at_revision

from paths import SMALL, line_of

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("bom", [b"", BOM], ids=["plain", "bom"])
def test_every_way_in_gives_the_digest_of_the_stored_bytes(tmp_path: Path, small_text: str, bom: bytes) -> None:
    data = bom + small_text.encode()
    path = tmp_path / "p.policy"
    path.write_bytes(data)
    want = "sha256:" + hashlib.sha256(data).hexdigest()
    assert api.load(path).digest == want  # serve and decide
    assert api.check_file(path).digest == want  # check, lint
    assert loader.load_bytes(data, "p.policy").digest == want  # diff --base, from git
    assert api.loads(data.decode("utf-8"), "p.policy").digest == want  # a caller holding the text


def test_a_file_at_a_git_revision_gets_the_digest_it_has_on_disk(tmp_path: Path, small_text: str) -> None:
    path = tmp_path / "p.policy"
    path.write_bytes(BOM + small_text.encode())
    for args in (["init", "-q"], ["add", "p.policy"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "p"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    stored = at_revision(path, "HEAD")
    assert stored == path.read_bytes()
    assert loader.load_bytes(stored, "p.policy@HEAD").digest == api.load(path).digest


def test_loading_parses_and_checks_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, small_text: str) -> None:
    calls: list[str] = []
    real = loader.parse

    def counting(source):  # type: ignore[no-untyped-def]
        calls.append(source.path)
        return real(source)

    monkeypatch.setattr(loader, "parse", counting)
    path = tmp_path / "p.policy"
    path.write_text(small_text, encoding="utf-8")
    result = api.check_file(path)
    policy = api.compile_checked(result)  # what lint does with the checked file
    assert calls == [result.path] and policy.tree == result.policy and policy.warnings == tuple(result.warnings)


def test_a_policy_carries_what_the_guardrails_read(small: Policy) -> None:
    first = line_of(SMALL, "allow use of email from contact for marketing if consent basis consent")
    assert small.source.path == "small.policy" and small.tree.rules() and small.compiled.rules[0].line == first
    with pytest.raises(Exception):
        small.compiled.rules = ()  # type: ignore[misc]  # frozen once compiled
