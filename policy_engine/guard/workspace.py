"""Where the guardrails' policies come from. In: paths, git revisions. Out: paths and bytes
(loading them is the engine's loader's job, so a file at a revision gets the digest it gets on disk).

- `repo_root()` / `default_paths()`: the repository around the working directory and the
  policies under its `policies/` folder (what `test`, `lint` and `diff --base` read by default);
- `at_revision(path, rev)`: a file's bytes at a git revision (`git show REV:PATH`), None when it
  did not exist there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from policy_engine.engine.loader import POLICY_SUFFIX
from policy_engine.language.source import display_path


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


def at_revision(path: str | os.PathLike[str], rev: str) -> bytes | None:
    """The file's bytes at git revision `rev`; None when the file did not exist there.
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
    return bytes(shown.stdout)


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
    return [display_path(root / name) for name in listed.stdout.splitlines() if name.endswith(POLICY_SUFFIX)]
