"""The configuration reference of `serve` in docs/operations.md, between its two markers, is
the table `policy_engine.server.settings.reference_markdown()` makes from the one definition of the
options; tests/docs/test_operations_reference.py checks that it is. To rewrite it:

    .venv/bin/python docs/hooks/serve_settings.py --update
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGE = ROOT / "docs" / "operations.md"
BLOCK = re.compile(r"(<!-- serve-settings: begin[^\n]*-->\n)(.*?)(<!-- serve-settings: end -->)", re.S)


def current() -> str:
    m = BLOCK.search(PAGE.read_text(encoding="utf-8"))
    if m is None:
        raise SystemExit(f"{PAGE}: no `<!-- serve-settings: begin -->` ... `<!-- serve-settings: end -->` block")
    return m.group(2)


def expected() -> str:
    from policy_engine.server.settings import reference_markdown

    return reference_markdown()


def update() -> None:
    text = PAGE.read_text(encoding="utf-8")
    PAGE.write_text(BLOCK.sub(lambda m: m.group(1) + expected() + m.group(3), text), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        print(expected(), end="")
