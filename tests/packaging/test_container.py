"""The container recipe (Dockerfile, compose.yaml, .dockerignore), checked without a container
engine: the Dockerfile is read by the official BuildKit parser (the `dockerfile` package), the
image's CMD and compose's command are parsed by the real `serve` command, the HEALTHCHECK's own
command is run against a real server on loopback, and every file the build copies is in the
build context that .dockerignore leaves.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dockerfile
import pytest
import yaml
from paths import OPEN_E, REPO

from policy_engine.cli.health import health
from policy_engine.cli.serve import serve

SCRIPT = Path(sys.executable).parent / "policy-engine"


@pytest.fixture(scope="module")
def stages() -> list[list[dockerfile.Command]]:
    """The Dockerfile's instructions, one list per build stage (FROM ...)."""
    out: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(REPO / "Dockerfile")):
        if command.cmd == "FROM":
            out.append([])
        assert out, "the Dockerfile must start with FROM"
        out[-1].append(command)
    return out


def _one(stage: list[dockerfile.Command], cmd: str) -> dockerfile.Command:
    found = [c for c in stage if c.cmd == cmd]
    assert len(found) == 1, f"the final stage needs exactly one {cmd}, has {len(found)}"
    return found[0]


def test_final_stage_is_slim_python(stages: list[list[dockerfile.Command]]) -> None:
    base = stages[-1][0].value[0]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base


def test_runs_as_a_non_root_user_created_in_the_image(stages: list[list[dockerfile.Command]]) -> None:
    final = stages[-1]
    user = _one(final, "USER").value[0].split(":")[0]
    assert user not in ("root", "0") and not user.startswith("0:")
    created = " ".join(" ".join(c.value) for c in final if c.cmd == "RUN")
    assert re.search(rf"useradd\b[^&]*\b{re.escape(user)}\b", created), "USER names a user no RUN creates"
    # nothing after USER switches back to root
    after = final[final.index(_one(final, "USER")):]
    assert [c for c in after if c.cmd == "USER"] == [_one(final, "USER")]


def test_cmd_is_serve_with_flags_serve_accepts(stages: list[list[dockerfile.Command]]) -> None:
    final = stages[-1]
    assert not [c for c in final if c.cmd == "ENTRYPOINT"]
    cmd = _one(final, "CMD")
    assert cmd.json, "CMD in exec form, so serve is PID 1 and gets SIGTERM"
    argv = list(cmd.value)
    assert argv[:2] == ["policy-engine", "serve"]
    params = serve.make_context("serve", argv[2:]).params
    assert params["host"] == "0.0.0.0"  # reachable from outside the container
    exposed = {int(p.split("/")[0]) for c in final if c.cmd == "EXPOSE" for p in c.value}
    assert params["port"] in exposed
    copied_to = {c.value[-1] for c in final if c.cmd == "COPY"}
    assert params["policy"] in copied_to, "the default policy is copied into the image"


def test_the_default_policy_checks() -> None:
    import policy_engine

    assert policy_engine.load(OPEN_E).digest.startswith("sha256:")


def _ignored(path: str, patterns: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for negate, pattern in patterns:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex, p) for p in prefixes):
            ignored = not negate
    return ignored


def test_build_context_holds_every_copied_file(stages: list[list[dockerfile.Command]]) -> None:
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            patterns.append((negate, line.lstrip("!").strip("/")))
    sources = [src.rstrip("/") for stage in stages for c in stage if c.cmd == "COPY"
               and not any(f.startswith("--from") for f in c.flags) for src in c.value[:-1]]
    assert sources
    for src in sources:
        where = REPO / src
        assert where.exists(), f"COPY {src}: no such file in the repository"
        files = [where] if where.is_file() else [f for f in where.rglob("*") if f.is_file()
                                                   and "__pycache__" not in f.parts]
        for f in files:
            rel = f.relative_to(REPO).as_posix()
            assert not _ignored(rel, patterns), f"COPY {src}: {rel} is left out by .dockerignore"
    assert _ignored("tests/conftest.py", patterns) and _ignored(".venv/bin/python", patterns)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthcheck_command_asks_readyz(stages: list[list[dockerfile.Command]], tmp_path: Path) -> None:
    check = _one(stages[-1], "HEALTHCHECK")
    assert check.value[0] == "CMD" and check.json
    argv = list(check.value[1:])
    assert argv[:2] == ["policy-engine", "health"]
    assert any(f.startswith("--interval=") for f in check.flags)
    # the probe asks the image's port unless the environment moves it, as `serve` reads it
    assert health.make_context("health", argv[2:]).params["port"] == 8181
    port = _free_port()
    argv = [str(SCRIPT), *argv[1:]]
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "POLICY_ENGINE_PORT": str(port)}
    assert subprocess.run(argv, capture_output=True, timeout=30, env=env).returncode != 0  # nothing listens yet
    with open(tmp_path / "serve.err", "wb") as err:
        proc = subprocess.Popen([str(SCRIPT), "serve", str(OPEN_E), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=err,
                                stdin=subprocess.DEVNULL, env=env)
    try:
        healthy, deadline = False, time.monotonic() + 60
        while not healthy and time.monotonic() < deadline and proc.poll() is None:
            healthy = subprocess.run(argv, capture_output=True, timeout=30, env=env).returncode == 0
            if not healthy:
                time.sleep(0.2)
        assert healthy, (tmp_path / "serve.err").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_compose_example_serves_the_mounted_policies(stages: list[list[dockerfile.Command]]) -> None:
    doc = yaml.safe_load((REPO / "compose.yaml").read_text())
    svc = doc["services"]["policy-engine"]
    assert svc["build"] == "."
    argv = svc["command"]
    assert argv[:2] == ["policy-engine", "serve"]
    params = serve.make_context("serve", argv[2:]).params
    mounts = {}
    for volume in svc["volumes"]:
        host, target, *opts = volume.split(":")
        mounts[target] = (host, opts)
    # the policy named in the command is inside a read-only bind mount of a folder that exists here
    target = next(t for t in mounts if params["policy"].startswith(t + "/"))
    host, opts = mounts[target]
    assert opts == ["ro"]
    assert (REPO / host / params["policy"][len(target) + 1:]).is_file()
    # the decision log's folder (XDG_STATE_HOME in the image: serve's and log's default) is a named volume
    env = [c.value for c in stages[-1] if c.cmd == "ENV"]
    state = dict(pair for values in env for pair in zip(values[::2], values[1::2]))["XDG_STATE_HOME"]
    assert mounts[state][0] in doc["volumes"]
    published = [p.rsplit(":", 1)[-1] for p in svc["ports"]]
    assert str(params["port"]) in published
    grace = svc["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > 30  # serve drains for up to 30 s


def test_compose_ship_logs_follows_the_served_log(stages: list[list[dockerfile.Command]]) -> None:
    from policy_engine.cli.ship_logs import ship_logs

    doc = yaml.safe_load((REPO / "compose.yaml").read_text())
    shipper, served = doc["services"]["ship-logs"], doc["services"]["policy-engine"]
    assert shipper["profiles"] == ["fleet"]  # only when asked for: the collector is the user's
    argv = shipper["command"]
    assert argv[:2] == ["policy-engine", "ship-logs"]
    params = ship_logs.make_context("ship-logs", argv[2:]).params
    env = [c.value for c in stages[-1] if c.cmd == "ENV"]
    state = dict(pair for values in env for pair in zip(values[::2], values[1::2]))["XDG_STATE_HOME"]
    assert str(params["db"]) == f"{state}/policy-engine/decisions.sqlite3"  # where serve writes by default
    assert set(shipper["volumes"]) & set(served["volumes"]) == {f"decisions:{state}"}
