"""Where the guardrails' policies come from. In: paths, git revisions. Out: Loaded policies.

- `repo_root()` / `default_paths()`: the repository around the working directory and the
  policies under its `policies/` folder (what `test`, `lint` and `diff --base` read by default);
- `at_revision(path, rev)`: a file's text at a git revision (`git show REV:PATH`), None when it
  did not exist there;
- `load_source(source)`: check and compile, keeping the compiled form beside the Policy, since
  diff, invariants and lint read the decision index the engine decides with.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from policy_engine import api
from policy_engine.language import ast
from policy_engine.engine.compiler import CompiledPolicy, compile_policy
from policy_engine.language.diagnostics import Diagnostic, PolicyError
from policy_engine.engine.policy import Policy
from policy_engine.language.source import Source, display_path


@dataclass(frozen=True)
class Loaded:
    source: Source
    tree: ast.Policy
    compiled: CompiledPolicy
    policy: Policy
    diagnostics: tuple[Diagnostic, ...] = ()  # warnings (a Loaded policy has no errors)

    @property
    def path(self) -> str:
        return self.source.path


def load_source(source: Source) -> Loaded:
    """Check and compile; raises PolicyError carrying the errors."""
    result = api.check_source(source)
    if not result.ok or result.policy is None:
        raise PolicyError([d for d in result.diagnostics if d.is_error])
    compiled = compile_policy(result.policy, source)
    digest = "sha256:" + hashlib.sha256(source.text.encode("utf-8")).hexdigest()
    return Loaded(source, result.policy, compiled, Policy(compiled, digest), tuple(result.diagnostics))


def load_path(path: str | os.PathLike[str]) -> Loaded:
    return load_source(api.read_source(path))


def load_text(text: str, path: str = "<string>") -> Loaded:
    return load_source(Source(text, path))


def repo_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The top of the git repository around `start` (default: the working directory); the
    directory itself when it is not inside one."""
    here = Path(start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def default_paths() -> list[Path]:
    """`policies/` of the current repository (raises FileNotFoundError when there is none)."""
    folder = repo_root() / "policies"
    if not folder.is_dir():
        raise FileNotFoundError(display_path(folder))
    return [folder]


def _git(*args: str, text: bool = True) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    try:
        return subprocess.run(["git", *args], capture_output=True, text=text)
    except OSError as err:  # git missing or not executable
        raise RuntimeError(f"cannot run git ({err.strerror or err}): --base needs git on the PATH") from None


def _verify_revision(root: Path, rev: str) -> None:
    check = _git("-C", str(root), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if check.returncode != 0:
        raise RuntimeError(f"git cannot find revision `{rev}` in {display_path(root) or '.'}")


def at_revision(path: str | os.PathLike[str], rev: str) -> str | None:
    """The file's text at git revision `rev`; None when the file did not exist there.
    Raises ValueError when the file is not inside a git repository, RuntimeError when git cannot
    read the revision."""
    p = Path(path).resolve()
    root = repo_root(p.parent)
    if not (root / ".git").exists():
        raise ValueError(f"{display_path(path)} is not inside a git repository")
    rel = p.relative_to(root).as_posix()
    _verify_revision(root, rev)
    shown = _git("-C", str(root), "show", f"{rev}:{rel}", text=False)
    if shown.returncode != 0:
        return None
    text = shown.stdout.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def files_at_revision(folder: str | os.PathLike[str], rev: str) -> list[str]:
    """The *.policy files under `folder` at revision `rev`, as paths relative to the cwd."""
    p = Path(folder).resolve()
    root = repo_root(p)
    if not (root / ".git").exists():
        raise ValueError(f"{display_path(folder)} is not inside a git repository")
    _verify_revision(root, rev)
    rel = p.relative_to(root).as_posix()
    listed = _git("-C", str(root), "ls-tree", "-r", "--name-only", rev, "--", rel or ".")
    if listed.returncode != 0:
        return []
    return [display_path(root / name) for name in listed.stdout.splitlines() if name.endswith(api.POLICY_SUFFIX)]
