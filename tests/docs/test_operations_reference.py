"""docs/operations.md's configuration reference is the one definition of serve's options
(server/settings.py) as a table: every option, its config key, flag, variable and default."""

from __future__ import annotations

from policy_engine.server import settings

from .conftest import load_hook

serve_settings = load_hook("serve_settings")


def test_the_reference_is_the_definition():
    hint = "rewrite it with: .venv/bin/python docs/hooks/serve_settings.py --update"
    assert serve_settings.current() == serve_settings.expected(), hint


def test_the_reference_names_every_option_its_variable_and_its_key():
    table = serve_settings.current()
    for o in settings.OPTIONS:
        assert f"| `{o.key}` | `{o.flags}` | `{o.env}` |" in table
