"""The documentation site builds with `mkdocs build --strict` (one build: it is the slow docs test).

Strict mode turns every warning into a failure: a broken link or anchor, a page missing from
the navigation, a mkdocstrings reference to an object that no longer exists. The build runs
the generating hook too, so the CLI reference, the HTTP API page (from the app factory's
OpenAPI document) and the rendered Open-E policy are produced from the current code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_every_page_is_built(site):
    for page in ("index.html", "tutorial/index.html", "language/index.html", "semantics/index.html",
                 "cli/index.html", "http-api/index.html", "python-api/index.html", "ci/index.html",
                 "operations/index.html", "open-e/index.html"):
        assert (site / page).is_file(), page


def test_policy_blocks_are_highlighted_by_the_policy_lexer(site):
    page = (site / "language" / "index.html").read_text(encoding="utf-8")
    assert 'class="language-policy highlight"' in page
    assert '<span class="kr">allow</span>' in page  # an effect, as the lexer marks it


def test_generated_pages(site):
    from policy_engine.cli.app import cli

    reference = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"<code>{name}</code>" in reference, f"the CLI reference lacks `{name}`"
    spec = json.loads((site / "openapi.json").read_text(encoding="utf-8"))
    api_page = (site / "http-api" / "index.html").read_text(encoding="utf-8")
    for path in spec["paths"]:
        assert path in api_page
    open_e = (site / "open-e" / "index.html").read_text(encoding="utf-8")
    assert "Coverage of the published text" in open_e and "are encoded:" in open_e
    python_api = (site / "python-api" / "index.html").read_text(encoding="utf-8")
    assert "policy_engine.api.load" in python_api
