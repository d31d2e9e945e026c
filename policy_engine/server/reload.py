"""The policy being served, and replacing it without loss.

`PolicyHolder.current` is one immutable `Served` (policy + when it was loaded). A request reads
it once at its start and answers every query of that request from it, so a reload never changes
an answer mid-request and every answer names the digest that decided it. `reload()` loads and
checks the file first and swaps only on success: a version that fails to check leaves the old
one serving and comes back with its diagnostics.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from policy_engine.language.diagnostics import Diagnostic, PolicyError

log = logging.getLogger("policy_engine.server")


def _load(path: str) -> Any:
    import policy_engine  # the façade; imported late so the server package imports without the engine

    return policy_engine.load(path)


@dataclass(frozen=True)
class Served:
    policy: Any
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
    def __init__(self, path: str, policy: Any = None, *, loader: Callable[[str], Any] = _load,
                 on_change: Callable[[Served], None] | None = None):
        self.path = path
        self._loader = loader
        self._lock = threading.Lock()
        self.current = Served(policy if policy is not None else loader(path), _now())
        self._on_change = on_change
        self.reloads = 0
        self.failed_reloads = 0

    def reload(self, trigger: str) -> ReloadResult:
        """Load and check the file; swap it in only if it checks. Never raises for a bad file."""
        with self._lock:  # one reload at a time; requests never wait on this lock
            old = self.current
            try:
                policy = self._loader(self.path)
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
