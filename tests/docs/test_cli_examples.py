"""Every command-line example in the docs prints, today, exactly what the docs show.

The examples are `<!-- cli -->` + ```console blocks (docs/hooks/cli_examples.py explains the
convention). When one is stale, rewrite them all with:

    .venv/bin/python docs/hooks/cli_examples.py --update
"""

from __future__ import annotations

import pytest

from .conftest import load_hook

cli_examples = load_hook("cli_examples")
EXAMPLES = cli_examples.examples()


def test_the_docs_have_cli_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_cli_example(example):
    output, code = cli_examples.expected(example)
    hint = "rewrite with: .venv/bin/python docs/hooks/cli_examples.py --update"
    assert code == example.exit_code, f"{example.where}: `{example.command}` exits {code}, the docs say " \
        f"{example.exit_code}; {hint}"
    assert output == example.shown, f"{example.where}: `{example.command}` prints something else now; {hint}"


def test_examples_only_use_commands_that_exist():
    from policy_engine.cli.app import cli

    for example in EXAMPLES:
        name = example.command.split()[1]
        assert name.startswith("-") or name in cli.commands, f"{example.where}: no command `{name}`"
