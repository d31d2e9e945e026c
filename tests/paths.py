"""Where the tests' files are, named once, so no test module walks up from its own `__file__`.

Any test module can `from paths import OPEN_E`: pytest puts this folder on `sys.path` when it
loads `tests/conftest.py` (a conftest outside a package has its folder prepended).
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CASES = TESTS / "cases"
FIXTURES = TESTS / "fixtures"
OPEN_E = REPO / "policies" / "open_e.policy"
SMALL = FIXTURES / "small.policy"
RICH = FIXTURES / "rich.policy"


def line_of(path: Path, statement: str) -> int:
    """The 1-based line of `path` that holds `statement` (stripped), so a test names the rule it
    means instead of a line number that shifts whenever the fixture grows."""
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip() == statement]
    if len(hits) != 1:
        raise LookupError(f"{path.name} holds {statement!r} on {len(hits)} lines, not exactly one")
    return hits[0]
