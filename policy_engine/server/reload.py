"""The policy being served, and replacing it without loss.

`PolicyHolder.current` is one immutable `Served` (policy + when it was loaded). A request reads
it once at its start and answers every query of that request from it, so a reload never changes
an answer mid-request and every answer names the digest that decided it. `reload()` reads the
file only once it is complete and stable (`read_stable`), loads and checks those bytes, and
swaps only on success: a version that fails to check, or a file that keeps changing, leaves the
old one serving and comes back with its diagnostics.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from policy_engine.engine.loader import read_bytes
from policy_engine.language.diagnostics import Diagnostic, PolicyError
from policy_engine.language.source import Source, display_path

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy

log = logging.getLogger("policy_engine.server")


class Unstable(Exception):
    """The file kept changing (or vanished) while it was being read."""


def _identity(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def read_stable(path: str, settle: float, give_up: float | None = None) -> bytes:
    """The file's bytes once it is complete: unchanged (inode, size, mtime) for `settle` seconds, and
    two reads `settle / 2` apart with the same digest and the same identity. Rename-into-place
    publishes a complete file at once (it passes as soon as it has settled); an in-place write is
    waited out as long as its pauses are shorter than `settle`. Raises Unstable after `give_up`
    seconds (default: 10 settles, at least 5 s) of changes, OSError when it cannot be read."""
    deadline = time.monotonic() + (give_up if give_up is not None else max(5.0, 10 * settle))
    while True:
        first = _identity(path)
        age = time.time() - first[2] / 1e9
        if age < settle:  # written a moment ago: a writer may still be at it
            wait = settle - max(age, 0.0)
        else:
            data = _read(path)
            time.sleep(settle / 2)
            again = _read(path)
            if _identity(path) == first and hashlib.sha256(data).digest() == hashlib.sha256(again).digest():
                return data
            wait = settle / 2
        if time.monotonic() + wait > deadline:
            raise Unstable(path)
        time.sleep(wait)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def load_bytes(data: bytes, path: str) -> Policy:
    """Check and compile bytes read from `path` (the name reasons and diagnostics show)."""
    from policy_engine.engine import loader  # imported late: the server package imports without the engine

    return loader.load_bytes(data, display_path(path))


@dataclass(frozen=True)
class Served:
    policy: Policy
    loaded_at: str

    @property
    def summary(self) -> dict[str, Any]:
        return {"name": self.policy.name, "digest": self.policy.digest}


@dataclass
class ReloadResult:
    trigger: str
    result: str  # "reloaded" | "unchanged" | "failed"
    served: Served
    previous_digest: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result != "failed"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "trigger": self.trigger,
                               "previous_digest": self.previous_digest,
                               "policy": {**self.served.summary, "loaded_at": self.served.loaded_at}}
        if self.diagnostics:
            out["diagnostics"] = [d.to_dict() for d in self.diagnostics]
        return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PolicyHolder:
    def __init__(self, path: str, policy: Policy | None = None, *, settle: float = 0.5,
                 loader: Callable[[bytes, str], Policy] = load_bytes,
                 on_change: Callable[[Served], None] | None = None):
        self.path = path
        self.settle = settle
        self._loader = loader
        self._lock = threading.Lock()
        self.current = Served(policy if policy is not None else self._load(), _now())
        self._on_change = on_change
        self.reloads = 0
        self.failed_reloads = 0

    def _load(self) -> Policy:
        """Read the file once it is stable, then load those very bytes (never the path again)."""
        shown = display_path(self.path)
        try:
            data = read_bytes(self.path, lambda path: read_stable(str(path), self.settle),
                              missing_help="put the policy back; the old version is still served")
        except Unstable:
            raise PolicyError([Diagnostic(
                "reload.unstable", f"{shown} kept changing while it was read; not loaded", Source("", shown), None,
                help="publish a policy by writing a temporary file in the same folder and renaming it over "
                     "the served one (mv, os.replace): the server then sees only complete versions")]) from None
        return self._loader(data, self.path)

    def reload(self, trigger: str) -> ReloadResult:
        """Load and check the file; swap it in only if it checks. Never raises for a bad file."""
        with self._lock:  # one reload at a time; requests never wait on this lock
            old = self.current
            try:
                policy = self._load()
            except PolicyError as err:
                diags = list(err.diagnostics)
            except Exception as err:  # a crash in the loader must not take the server down
                log.exception("reload (%s): loading %s failed unexpectedly", trigger, self.path)
                diags = [Diagnostic("reload.internal", f"loading the policy failed: {type(err).__name__}: {err}")]
            else:
                if policy.digest == old.policy.digest:
                    log.info("reload (%s): %s unchanged (%s)", trigger, self.path, old.policy.digest)
                    return ReloadResult(trigger, "unchanged", old, old.policy.digest)
                self.current = Served(policy, _now())
                self.reloads += 1
                log.info("reload (%s): now serving %s (%s), was %s", trigger, policy.name, policy.digest,
                         old.policy.digest)
                if self._on_change:
                    self._on_change(self.current)
                return ReloadResult(trigger, "reloaded", self.current, old.policy.digest)
            self.failed_reloads += 1
            rendered = "\n".join(d.render() for d in diags)
            log.error("reload (%s): %s does not check; still serving %s\n%s", trigger, self.path,
                      old.policy.digest, rendered)
            return ReloadResult(trigger, "failed", old, old.policy.digest, diags)
