"""The façade: read, check, load and decide. The outer layers (CLI, server, guardrails) and users
import this module; it wires the language and the engine and adds nothing of its own.
"""

from __future__ import annotations

import os

from policy_engine.engine.loader import (POLICY_SUFFIX, CheckResult, check_bytes, check_file, check_source, compile_checked,
                                         decode,
                                         load_bytes, load_path, load_source, load_text, policy_files, read_bytes,
                                         read_source)
from policy_engine.engine.policy import Policy
from policy_engine.engine.query import Decision, Query, QueryError, parse_json
from policy_engine.language import ast
from policy_engine.language.diagnostics import PolicyError
from policy_engine.language.source import Source

__all__ = ["POLICY_SUFFIX", "CheckResult", "Decision", "Policy", "PolicyError", "Query", "QueryError", "check_bytes",
           "check_file", "check_source", "compile_checked", "check_text", "decode", "load", "load_bytes", "load_path", "load_source",
           "load_text", "loads", "parse_json", "parse_policy", "policy_files", "read_bytes", "read_source"]


def check_text(text: str, path: str = "<string>") -> CheckResult:
    return check_source(Source(text[1:] if text.startswith("\ufeff") else text, path))


def parse_policy(path: str | os.PathLike[str]) -> tuple[Source, ast.PolicyFile]:
    """Read and check; raise PolicyError on any error. Warnings are not errors."""
    result = check_file(path)
    if not result.ok or result.policy is None or result.source is None:
        raise PolicyError(result.errors)
    return result.source, result.policy


def load(path: str | os.PathLike[str]) -> Policy:
    """Read, check and compile a policy file. Raises PolicyError carrying the diagnostics."""
    return load_path(path)


def loads(text: str, path: str = "<string>") -> Policy:
    """Check and compile policy text; `path` is the name reasons and errors show."""
    return load_text(text, path)
