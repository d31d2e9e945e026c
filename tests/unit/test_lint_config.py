"""lint_config.py: where the configuration is found, what its keys do, and that a typo in it is
an error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.engine.loader import check_file
from policy_engine.guard import lint_config, lint_run
from policy_engine.language.diagnostics import Severity

POLICY = """\
data email "E"
data phone "P"
purpose marketing "M"
fact f "F"
section "S":
  retention of all data: "a year"
  allow use of email, phone for marketing if f basis consent
  deny use of phone
section "Empty":
"""


def lint_in(tmp_path: Path, config: str, name: str = "policy-engine.toml") -> list[tuple[str, Severity]]:
    (tmp_path / name).write_text(config, encoding="utf-8")
    sub = tmp_path / "policies"
    sub.mkdir(exist_ok=True)
    policy = sub / "p.policy"
    policy.write_text(POLICY, encoding="utf-8")
    conf = lint_config.for_file(str(policy), lint_run.KNOWN)
    return [(f.code, f.diagnostic.severity) for f in lint_run.run(check_file(policy), conf).findings]


def test_without_configuration_everything_is_reported(tmp_path: Path) -> None:
    assert lint_in(tmp_path, "") == [("lint.conflict", Severity.WARNING), ("lint.empty_section", Severity.WARNING)]


def test_disable_severity_and_per_file_ignores(tmp_path: Path) -> None:
    assert lint_in(tmp_path, '[lint]\ndisable = ["lint.empty_section"]\n') == [("lint.conflict", Severity.WARNING)]
    assert lint_in(tmp_path, '[lint]\nseverity = { "lint.conflict" = "error" }\n')[0] == ("lint.conflict", Severity.ERROR)
    ignores = '[lint.per-file-ignores]\n"policies/*.policy" = ["lint"]\n'
    assert lint_in(tmp_path, ignores) == []
    assert lint_in(tmp_path, '[lint.per-file-ignores]\n"other/*.policy" = ["lint"]\n') != []


def test_enable_turns_on_the_completeness_findings(tmp_path: Path) -> None:
    found = lint_in(tmp_path, '[lint]\nenable = ["art13.controller"]\n')
    assert ("art13.controller", Severity.WARNING) in found
    assert not any(code.startswith("art13.") and code != "art13.controller" for code, _ in found)


def test_pyproject_table_and_precedence(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "x"\n[tool.policy-engine.lint]\ndisable = ["lint.conflict"]\n'
    assert lint_in(tmp_path, pyproject, "pyproject.toml") == [("lint.empty_section", Severity.WARNING)]
    # a pyproject.toml without the table is passed over; the nearest file with one wins
    (tmp_path / "policies" / "pyproject.toml").write_text('[project]\nname = "y"\n', encoding="utf-8")
    assert lint_config.find(tmp_path / "policies" / "p.policy") == tmp_path / "pyproject.toml"
    (tmp_path / "policies" / "policy-engine.toml").write_text("[lint]\n", encoding="utf-8")
    assert lint_config.find(tmp_path / "policies" / "p.policy") == tmp_path / "policies" / "policy-engine.toml"


def test_the_old_code_is_accepted_as_its_new_one(tmp_path: Path) -> None:
    conf = lint_config.load(_write(tmp_path, '[lint]\ndisable = ["lint.unused_term"]\n'), lint_run.KNOWN)
    assert conf.disable == ("check.unused_term",)


@pytest.mark.parametrize(("text", "words"), [
    ('[lint]\ndisabel = []\n', "unknown key `disabel`"),
    ('[lint]\ndisable = ["lint.conflcit"]\n', "`lint.conflcit`, which is no code"),
    ('[lint]\ndisable = "lint.conflict"\n', "must be a list of codes"),
    ('[lint]\nseverity = { "lint.conflict" = "fatal" }\n', 'write "error" or "warning"'),
    ('[lint\n', "is not valid TOML"),
])
def test_a_bad_configuration_names_the_file_and_the_key(tmp_path: Path, text: str, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(lint_config.ConfigError) as err:
        lint_config.load(path, lint_run.KNOWN)
    assert words in str(err.value) and "policy-engine.toml" in str(err.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy-engine.toml"
    path.write_text(text, encoding="utf-8")
    return path
