"""One lint run as every front end shows it: findings, the repository's configuration and the
file's inline suppressions applied. In: a checked file (CheckResult). Out: LintRun.

The CLI (text, JSON, SARIF, GitHub annotations) and the language server all call `run`, so a
code disabled in `pyproject.toml` or suppressed by `# lint: ignore[...]` disappears from every
one of them alike, and `lint --strict` in CI agrees with what the editor showed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from policy_engine import api
from policy_engine.engine.loader import CheckResult, digest_of
from policy_engine.guard import lint as linting
from policy_engine.guard import suppression
from policy_engine.guard.completeness import CODES as ART13
from policy_engine.guard.lint import Finding
from policy_engine.guard.lint_config import LintConfig, _matches

# Every code a suppression or the configuration may name: lint's, the checker's warnings, the
# completeness findings, the findings about suppressions, and the old codes (aliases).
KNOWN: dict[str, str] = {**linting.DESCRIPTIONS, **ART13, **suppression.CODES,
                         **{old: f"Now {new}." for old, new in linting.ALIASES.items()}}


@dataclass
class LintRun:
    findings: list[Finding]
    suppressed: list[suppression.Suppressed] = field(default_factory=list)


def run(result: CheckResult, config: LintConfig | None = None, completeness: bool = False) -> LintRun:
    """`result` must have checked without errors. `completeness` (--completeness) or an
    `enable = ["art13"]` in the configuration adds the GDPR Art. 13/14 findings."""
    config = config or LintConfig()
    assert result.source is not None
    wanted = completeness or config.completeness
    if result.digest is None:  # checked from a text (an editor's buffer), not from a file's bytes
        result = replace(result, digest=digest_of(result.source.text.encode("utf-8")))
    found = linting.lint(api.compile_checked(result), wanted)
    found = [f for f in found if _wanted(f, config, completeness)]
    applied = suppression.apply(result.source, found, KNOWN, linting.ALIASES,
                                ran=("lint.", "check.", *(("art13.",) if wanted else ())))
    kept = [suppression.with_severity(f, config.severity_of(f.code, f.diagnostic.severity))
            for f in applied.kept if not config.disabled(f.code, f.diagnostic.file)]
    return LintRun(sorted(kept, key=lambda f: f.diagnostic.sort_key()), applied.suppressed)


def _wanted(f: Finding, config: LintConfig, completeness: bool) -> bool:
    if config.disabled(f.code, f.diagnostic.file):
        return False
    if f.code.startswith("art13.") and not completeness:
        return any(_matches(f.code, e) for e in config.enable)
    return True


def check_warnings(result: CheckResult, config: LintConfig | None = None) -> LintRun:
    """What `check` shows of one file: its errors as they are, its warnings with the same
    configuration and suppressions as `lint` applies (so `check --strict` and `lint --strict`
    agree on a suppressed `check.unused_term`); the suppressions themselves are not judged here."""
    config = config or LintConfig()
    errors = [Finding(d) for d in result.diagnostics if d.is_error]
    warnings = [Finding(d) for d in result.diagnostics if not d.is_error and not config.disabled(d.code, d.file)]
    if result.source is None:
        return LintRun(errors + warnings)
    applied = suppression.apply(result.source, warnings, KNOWN, linting.ALIASES, report=False)
    kept = [suppression.with_severity(f, config.severity_of(f.code, f.diagnostic.severity)) for f in applied.kept]
    return LintRun(sorted(errors + kept, key=lambda f: f.diagnostic.sort_key()), applied.suppressed)
