"""The repository's lint configuration. In: a policy file's path. Out: LintConfig.

Where a mature tool looks (ruff, mypy, black): the nearest `policy-engine.toml` (table `[lint]`)
or `pyproject.toml` with a `[tool.policy-engine.lint]` table, searching from the policy's folder
up to the file system's root; the first found wins, and a `pyproject.toml` without the table is
passed over. `--config FILE` names one instead. The keys:

    disable = ["lint.empty_section", "art13"]   # codes (or a prefix: `lint`, `art13`) never reported
    enable = ["art13"]                          # codes off by default, turned on (as --completeness)
    [lint.severity]                             # or [tool.policy-engine.lint.severity]
    "lint.conflict" = "error"                   # "error" or "warning"
    [lint.per-file-ignores]
    "policies/legacy_*.policy" = ["lint.missing_basis"]   # globs relative to the config's folder

A key or a code the tool does not know is an error naming the file and the key, never ignored:
a typo in `disable` would otherwise silently report everything (or, in `severity`, nothing).
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_engine.guard.lint import ALIASES
from policy_engine.language.diagnostics import Severity

OWN_FILE = "policy-engine.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("disable", "enable", "severity", "per-file-ignores")


class ConfigError(Exception):
    """A configuration that cannot be read: the message names the file, the key and the fix."""


@dataclass(frozen=True)
class LintConfig:
    path: Path | None = None  # None: no configuration found
    disable: tuple[str, ...] = ()
    enable: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def completeness(self) -> bool:
        """Whether `enable` turns on the GDPR Art. 13/14 findings."""
        return any(e == "art13" or e.startswith("art13.") for e in self.enable)

    def disabled(self, code: str, file: str | None) -> bool:
        if any(_matches(code, d) for d in self.disable):
            return True
        if file is None or self.path is None:
            return False
        rel = _relative(file, self.path.parent)
        return any(fnmatch.fnmatch(rel, glob) and any(_matches(code, c) for c in codes)
                   for glob, codes in self.per_file_ignores)

    def severity_of(self, code: str, default: Severity) -> Severity:
        return self.severity.get(code, default)


def _matches(code: str, pattern: str) -> bool:
    return code == pattern or code.startswith(pattern.rstrip(".*") + ".")


def _relative(file: str, base: Path) -> str:
    try:
        return Path(os.path.relpath(Path(file).resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(file).as_posix()


def find(start: str | os.PathLike[str]) -> Path | None:
    """The configuration file that applies to a policy file (or folder) at `start`, if any."""
    here = Path(start).resolve()
    folder = here if here.is_dir() else here.parent
    for d in (folder, *folder.parents):
        own = d / OWN_FILE
        if own.is_file():
            return own
        py = d / PYPROJECT
        if py.is_file() and _table(py) is not None:
            return py
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: is not valid TOML: {err}") from None


def _table(path: Path) -> Mapping[str, Any] | None:
    data = _read(path)
    if path.name == PYPROJECT:
        tool = data.get("tool", {}).get("policy-engine", {})
        return tool.get("lint") if isinstance(tool, dict) else None
    return data.get("lint", {})


def load(path: str | os.PathLike[str], known: Mapping[str, str]) -> LintConfig:
    """Read and validate one configuration file. `known`: every code (for the typo check)."""
    path = Path(path)
    table = _table(path)
    where = f"{path} [tool.policy-engine.lint]" if path.name == PYPROJECT else f"{path} [lint]"
    if table is None:
        raise ConfigError(f"{where}: the table is missing: add it, or name another file with --config")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key `{key}`: the keys are " + ", ".join(f"`{k}`" for k in KEYS))

    def codes(value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise ConfigError(f"{where}: `{key}` must be a list of codes, like [\"lint.empty_section\"]")
        for c in value:
            if not any(_matches(k, c) for k in known):
                raise ConfigError(f"{where}: `{key}` names `{c}`, which is no code policy-engine reports; "
                                  "the codes are listed by `policy-engine lint --codes`")
        return tuple(ALIASES.get(c, c) for c in value)

    severity: dict[str, Severity] = {}
    for code, level in _mapping(table.get("severity", {}), where, "severity").items():
        (code,) = codes([code], "severity")
        if level not in ("error", "warning"):
            raise ConfigError(f"{where}: severity of `{code}` is \"{level}\": write \"error\" or \"warning\"")
        severity[code] = Severity(level)
    ignores = tuple((glob, codes(value, f"per-file-ignores.{glob}"))
                    for glob, value in _mapping(table.get("per-file-ignores", {}), where, "per-file-ignores").items())
    return LintConfig(path, codes(table.get("disable", []), "disable"), codes(table.get("enable", []), "enable"),
                      severity, ignores)


def _mapping(value: Any, where: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: `{key}` must be a table")
    return value


def for_file(file: str, known: Mapping[str, str], explicit: str | None = None,
             cache: dict[Path | None, LintConfig] | None = None) -> LintConfig:
    """The configuration for one policy file: `explicit` (--config), else the nearest one."""
    path = Path(explicit) if explicit else find(file)
    if cache is not None and path in cache:
        return cache[path]
    config = load(path, known) if path is not None else LintConfig()
    if cache is not None:
        cache[path] = config
    return config
