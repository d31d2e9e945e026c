"""The docs' command-line examples, run against the current CLI.

An example is a `console` code block right below a marker comment:

    <!-- cli -->
    ```console
    $ policy-engine check policies/open_e.policy
    1 file checked: no problems found
    ```

The marker may carry options: `exit=N` (the exit code the command must end with; default 0),
`head=N`, `tail=N` (the block shows only the first / last N lines of the output, with `...`
for the rest). A command may end with
`< FILE` to read stdin from a file. Commands run in the repository root with 80 columns,
in-process through click's test runner (what the terminal shows: stdout and stderr together).

    python docs/hooks/cli_examples.py           # check every example; exit 1 when one is stale
    python docs/hooks/cli_examples.py --update  # rewrite the examples with the current output

tests/docs/test_cli_examples.py runs the check in the test suite.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

BLOCK = re.compile(
    r"^<!-- cli(?P<opts>(?: [\w-]+=[^\s>]+)*) -->\n```console\n\$ (?P<command>[^\n]*)\n(?P<output>.*?)^```$",
    re.MULTILINE | re.DOTALL)


@dataclass
class Example:
    path: Path
    start: int
    end: int
    command: str
    shown: str
    exit_code: int
    head: int | None
    tail: int | None = None

    @property
    def where(self) -> str:
        line = self.path.read_text(encoding="utf-8")[: self.start].count("\n") + 1
        return f"{self.path.relative_to(ROOT)}:{line}"


def examples(paths: list[Path] | None = None) -> list[Example]:
    found = []
    for path in paths or sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            opts = dict(o.split("=", 1) for o in m["opts"].split())
            found.append(Example(path, m.start(), m.end(), m["command"], m["output"],
                                 int(opts.get("exit", 0)), int(opts["head"]) if "head" in opts else None,
                                 int(opts["tail"]) if "tail" in opts else None))
    return found


@contextlib.contextmanager
def _in_root():
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


def run(command: str) -> tuple[str, int]:
    """(what the terminal shows, exit code) of one `policy-engine ...` command line."""
    from click.testing import CliRunner

    from policy_engine.cli.app import cli

    words = shlex.split(command)
    if not words or words[0] != "policy-engine":
        raise ValueError(f"an example runs policy-engine, not {command!r}")
    stdin = None
    if len(words) >= 3 and words[-2] == "<":
        stdin = (ROOT / words[-1]).read_text(encoding="utf-8")
        words = words[:-2]
    with _in_root():
        result = CliRunner().invoke(cli, words[1:], input=stdin, prog_name="policy-engine",
                                    env={"COLUMNS": "80", "NO_COLOR": "1"}, catch_exceptions=False)
    return result.output, result.exit_code


def expected(example: Example) -> tuple[str, int]:
    """The block's text as the current CLI produces it, and the exit code it ended with."""
    output, code = run(example.command)
    lines = output.splitlines()
    head, tail = example.head or 0, example.tail or 0
    if (head or tail) and len(lines) > head + tail:
        lines = lines[:head] + ["..."] + (lines[-tail:] if tail else [])
    return "\n".join(lines) + ("\n" if lines else ""), code


def update(paths: list[Path] | None = None) -> int:
    changed = 0
    for path in paths or sorted(DOCS.rglob("*.md")):
        items = examples([path])
        if not items:
            continue
        text = path.read_text(encoding="utf-8")
        for ex in reversed(items):
            output, code = expected(ex)
            opts = "".join(f" {k}={v}" for k, v in (("exit", code if code else None), ("head", ex.head),
                                                    ("tail", ex.tail)) if v)
            block = f"<!-- cli{opts} -->\n```console\n$ {ex.command}\n{output}```"
            if text[ex.start:ex.end] != block:
                changed += 1
                text = text[:ex.start] + block + text[ex.end:]
        path.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if "--update" in argv:
        print(f"{update()} example(s) rewritten")
        return 0
    stale = 0
    for ex in examples():
        output, code = expected(ex)
        if output != ex.shown or code != ex.exit_code:
            stale += 1
            print(f"{ex.where}: `{ex.command}` no longer prints what the docs show (exit {code})")
    print(f"{len(examples())} examples, {stale} stale" + ("; run with --update to rewrite them" if stale else ""))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
