"""Runs a composite action's steps as the GitHub runner would, on this machine: every `run:`
step in bash (`bash --noprofile --norc -eo pipefail`, GitHub's default), with its `env:` and
`if:` expressions evaluated against a given context, `$GITHUB_OUTPUT` read back into
`steps.<id>.outputs`, and `$GITHUB_STEP_SUMMARY` collected. `uses:` steps are not run (they
are other repositories' actions); the runner records whether their `if:` would run them.

Only the expression language the action uses is understood: literals, context paths (with
`*`), `==`, `!=`, `!`, `&&`, `||`, parentheses, and the functions always(), success(),
failure(), format() and toJSON(); anything else raises, so a new construct in action.yml
fails the test instead of being skipped silently.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(==|!=|&&|\|\||!|\(|\)|,)|(\d+(?:\.\d+)?)|([A-Za-z_][\w.*-]*))")
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepRun:
    name: str
    ran: bool
    uses: str | None = None
    exit: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


def _lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if part == "*":
            value = list(value.values()) if isinstance(value, dict) else list(value or [])
            continue
        if isinstance(value, list):
            value = [v.get(part) if isinstance(v, dict) else None for v in value]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


class Evaluator:
    def __init__(self, context: dict[str, Any]):
        self.context = context
        self.failed = False

    def evaluate(self, expr: str) -> Any:
        code, pos, out = expr.strip(), 0, []
        while pos < len(code):
            m = _TOKEN.match(code, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot read the expression at {code[pos:]!r}")
            pos = m.end()
            string, op, number, name = m.groups()
            if string is not None:
                out.append(repr(string[1:-1].replace("''", "'")))
            elif op is not None:
                out.append({"&&": " and ", "||": " or ", "!": " not "}.get(op, op))
            elif number is not None:
                out.append(number)
            elif code[pos:].lstrip().startswith("("):
                if name not in ("always", "success", "failure", "format", "toJSON"):
                    raise ValueError(f"unknown function {name}() in {expr!r}")
                out.append(f"_{name}")
            elif name in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "None"}[name])
            else:
                out.append(f"_get({name!r})")
        env = {"_get": lambda p: _lookup(self.context, p), "_always": lambda: True,
               "_success": lambda: not self.failed, "_failure": lambda: self.failed,
               "_format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: _text(a[int(m.group(1))]), f),
               "_toJSON": lambda v: json.dumps(v, indent=2)}
        return eval("".join(out), {"__builtins__": {}}, env)  # noqa: S307 (the translated expression only)

    def substitute(self, text: str) -> str:
        return _EXPR.sub(lambda m: _text(self.evaluate(m.group(1))), text)

    def should_run(self, condition: str | None) -> bool:
        if condition is None:
            return not self.failed
        cond = _EXPR.sub(lambda m: m.group(1), str(condition))
        if not re.search(r"\b(always|failure|success)\(", cond):
            cond = f"success() && ({cond})"
        return bool(self.evaluate(cond))


def run_action(action: Path, inputs: dict[str, str], github: dict[str, Any], workdir: Path, temp: Path,
               path_dirs: list[Path], extra_env: dict[str, str] | None = None) -> list[StepRun]:
    spec = yaml.safe_load(action.read_text(encoding="utf-8"))
    defaults = {k: str(v.get("default", "")) for k, v in spec.get("inputs", {}).items()}
    unknown = set(inputs) - set(defaults)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    context: dict[str, Any] = {"github": github, "runner": {"temp": str(temp)}, "steps": {}}
    ev = Evaluator(context)
    context["inputs"] = {k: ev.substitute(v) for k, v in {**defaults, **inputs}.items()}
    summary = temp / "step-summary.md"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    base_env.update({"PATH": os.pathsep.join([*map(str, path_dirs), os.environ["PATH"]]), "RUNNER_TEMP": str(temp),
                     "GITHUB_ACTION_PATH": str(action.parent), "GITHUB_STEP_SUMMARY": str(summary),
                     "GITHUB_WORKSPACE": str(workdir), "NO_COLOR": "1", **(extra_env or {})})
    runs = []
    for i, step in enumerate(spec["runs"]["steps"]):
        name = step.get("name", f"step {i}")
        ran = ev.should_run(step.get("if"))
        if "uses" in step or not ran:
            runs.append(StepRun(name, ran, step.get("uses")))
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": {}}
            continue
        output = temp / f"output-{i}"
        output.write_text("")
        env = {**base_env, "GITHUB_OUTPUT": str(output)}
        env.update({k: ev.substitute(str(v)) for k, v in step.get("env", {}).items()})
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=workdir,
                              env=env, capture_output=True, text=True, timeout=300)
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        runs.append(StepRun(name, True, None, proc.returncode, proc.stdout, proc.stderr, outputs))
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": outputs}
        if proc.returncode != 0:
            ev.failed = True
    return runs
