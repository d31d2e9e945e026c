"""ServerState: everything a handler needs, built once per app and reachable from any request as
`state_of(request)`. Route modules hold no state of their own, so they are plain module-level
functions over this one typed record.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request

from policy_engine.server.auth import TokenCheck, read_token_file
from policy_engine.server.config import ServerConfig
from policy_engine.server.deciding import Decider
from policy_engine.server.decision_log import DecisionSink, NullDecisionLog, open_decision_log
from policy_engine.server.encode import Encoder
from policy_engine.server.metrics import Metrics
from policy_engine.server.reload import PolicyHolder, ReloadResult, Served
from policy_engine.server.watch import FileWatcher

if TYPE_CHECKING:
    from policy_engine.engine.policy import Policy

log = logging.getLogger("policy_engine.server")


class ServerState:
    """The config, the served policy (`holder.current`), auth, the decider, the decision log, metrics."""

    config: ServerConfig
    metrics: Metrics
    holder: PolicyHolder
    decide_auth: TokenCheck
    admin_auth: TokenCheck
    encode: Encoder
    decider: Decider
    log: DecisionSink
    watcher: FileWatcher | None

    def __init__(self, config: ServerConfig, policy: Policy | None = None):
        self.config = config
        self.metrics = Metrics()
        self.holder = PolicyHolder(config.policy_path, policy, on_change=self._on_change,
                                   settle=config.watch_settle)
        self.metrics.set_policy(self.holder.current.policy.name, self.holder.current.policy.digest)
        decide_tokens = read_token_file(config.token_file) if config.token_file else None
        admin_file = config.admin_token_file or config.token_file
        admin_tokens = read_token_file(admin_file) if admin_file else None
        if decide_tokens and admin_tokens:  # an admin may also ask questions
            decide_tokens = decide_tokens | admin_tokens
        self.decide_auth = TokenCheck(decide_tokens, required=False, scope="decision")
        self.admin_auth = TokenCheck(admin_tokens, required=True, scope="admin",
                                     other_scopes=decide_tokens or frozenset())
        self.encode = Encoder()
        self.decider = Decider(self.encode, threads=config.decision_threads, budget=config.request_timeout)
        self.log = NullDecisionLog()
        self.watcher = None

    @property
    def served(self) -> Served:
        return self.holder.current

    def _on_change(self, served: Served) -> None:
        self.metrics.set_policy(served.policy.name, served.policy.digest)

    def reload(self, trigger: str) -> ReloadResult:
        result = self.holder.reload(trigger)
        self.metrics.reloads.labels(trigger, result.result).inc()
        return result

    def start(self) -> None:
        c = self.config
        self.log = open_decision_log(c.decision_log, mode=c.log_mode, batch_size=c.log_batch_size,
                                     flush_interval=c.log_flush_interval, on_flush=self.metrics.log_flushed.inc,
                                     on_drop=self.metrics.log_dropped.inc)
        if c.watch:
            self.watcher = FileWatcher(c.policy_path, lambda: self.reload("watch"), c.watch_interval).start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.decider.close()
        self.metrics.flush()  # with --workers N: what this worker observed last is shared before it exits
        pending = self.log.pending()
        self.log.close()
        if self.config.decision_log is not None:
            log.info("decision log: %d rows flushed in all (%d were pending at shutdown), %d dropped",
                     self.log.flushed, pending, self.log.dropped)


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state
