"""Server settings: one frozen record, built by the CLI, passed to the app factory (and, for
`--workers N`, to each worker process through one environment variable as JSON). The options a
user sets, and where from (flags, POLICY_ENGINE_* variables, a config file), are defined once in
settings.py; this record is what the app reads.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

ENV_VAR = "POLICY_ENGINE_SERVER_CONFIG"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8181
DEFAULT_MAX_BODY = 1 << 20  # 1 MiB
DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_DEPTH = 32  # a query is 2 levels deep, a batch 4
DEFAULT_REQUEST_TIMEOUT = 5.0
DEFAULT_DECISION_THREADS = 4  # decisions hold the GIL: more threads add no throughput, only parallel slow ones
DEFAULT_WATCH_SETTLE = 0.5
DEFAULT_MAX_CONNECTIONS = 1000  # under the usual 1,024 descriptor limit, with room for the log and the policy
DEFAULT_KEEP_ALIVE = 5.0
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_HEADERS = 100
DEFAULT_SHUTDOWN_TIMEOUT = 30.0  # compose.yaml's stop_grace_period is a little longer


def default_decision_log() -> str:
    """$XDG_STATE_HOME/policy-engine/decisions.sqlite3 (~/.local/state/... when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "policy-engine" / "decisions.sqlite3")


@dataclass(frozen=True)
class ServerConfig:
    policy_path: str
    decision_log: str | None = None  # None: off; "-": JSON lines on stdout; else a SQLite file
    token_file: str | None = None  # bearer tokens for the decision endpoints (optional)
    admin_token_file: str | None = None  # admin tokens; defaults to token_file
    watch: bool = False
    watch_interval: float = 1.0
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_batch: int = DEFAULT_MAX_BATCH
    max_depth: int = DEFAULT_MAX_DEPTH
    workers: int = 1
    log_batch_size: int = 8192  # rows per transaction: each SQLite call retakes the GIL, so fewer, bigger ones
    log_flush_interval: float = 0.05
    log_mode: str = "buffered"  # "audit": an answer is sent only once its log row is committed
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # seconds a request may wait for its decisions: then 503
    decision_threads: int = DEFAULT_DECISION_THREADS  # the pool that runs decisions off the event loop
    watch_settle: float = DEFAULT_WATCH_SETTLE  # seconds a policy file must stay unchanged before it is read
    # connection hygiene (uvicorn's own limits, and the gaps protocol.py fills)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS
    # logging: with log_format "json" the access log is the app's own (server/logs.py), not uvicorn's
    log_format: str = "text"
    access_log: bool = False

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "ServerConfig":
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise RuntimeError(f"{ENV_VAR} is not set; start the server with `policy-engine serve`")
        return cls(**json.loads(raw))


_SIZE = re.compile(r"^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1 << 20, "mb": 1_000_000, "mib": 1 << 20,
          "g": 1 << 30, "gb": 1_000_000_000, "gib": 1 << 30}


def parse_size(text: str) -> int:
    """'1048576', '512KiB', '1MiB', '2MB' -> bytes. Raises ValueError."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (try 1048576, 512KiB or 1MiB)")
    return int(m.group(1)) * _UNITS[m.group(2).lower() if m.group(2) else None]
