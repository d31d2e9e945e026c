"""`policy-engine health` (the installed console script) against real servers on loopback: plain,
TLS (a certificate made here with trustme), a server whose decision log cannot be written (503),
and no server at all; the address and scheme from flags, POLICY_ENGINE_* variables and --config,
as `serve` reads them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import trustme

from policy_engine.cli.health import probe_url

from .conftest import OPEN_E, SCRIPT, Server, free_port, start
from .test_tls import serve_tls, wait_https

pytestmark = pytest.mark.slow  # starts server processes


def health(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_ENGINE_")}
    return subprocess.run([str(SCRIPT), "health", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})}, cwd=cwd)


def test_probe_url_asks_loopback_for_a_wildcard_address() -> None:
    assert probe_url("0.0.0.0", 8181, False) == "http://127.0.0.1:8181/readyz"
    assert probe_url("::", 8443, True) == "https://[::1]:8443/readyz"
    assert probe_url("10.1.2.3", 9000, True) == "https://10.1.2.3:9000/readyz"


def test_no_server_is_not_healthy() -> None:
    port = free_port()
    r = health("--port", str(port))
    assert r.returncode == 1
    assert f"http://127.0.0.1:{port}/readyz: no answer" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_ready_server_from_flag_environment_and_config_file(tmp_path: Path) -> None:
    srv = start(tmp_path, OPEN_E, "--no-decision-log")
    try:
        r = health("--port", str(srv.port))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"{srv.url}/readyz: ready"
        assert health("--port", str(srv.port), "--quiet").stdout == ""
        assert health(env={"POLICY_ENGINE_PORT": str(srv.port)}).returncode == 0
        (tmp_path / "serve.toml").write_text(f'host = "0.0.0.0"\nport = {srv.port}\nmax-body = "2MiB"\n')
        r = health("--config", str(tmp_path / "serve.toml"))
        assert r.returncode == 0, r.stderr
        assert health(env={"POLICY_ENGINE_CONFIG": str(tmp_path / "serve.toml")}).returncode == 0
        assert health("--url", srv.url + "/readyz").returncode == 0
        # a config file `serve` would refuse is refused here too, naming the file and the line
        (tmp_path / "bad.toml").write_text('port = "8181"\n')
        r = health("--config", str(tmp_path / "bad.toml"))
        assert r.returncode == 2
        assert "bad.toml:1" in r.stderr and "port" in r.stderr
    finally:
        srv.stop()


def test_tls_server_is_probed_over_https_when_the_certificate_is_set(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    env = {"POLICY_ENGINE_SSL_CERTFILE": str(tmp_path / "cert.pem"), "POLICY_ENGINE_SSL_KEYFILE": str(tmp_path / "key.pem")}
    proc, port, err = serve_tls(tmp_path, env=env)
    try:
        import ssl

        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)
        wait_https(proc, f"https://127.0.0.1:{port}", ctx, err)
        r = health(env={**env, "POLICY_ENGINE_PORT": str(port)})
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"https://127.0.0.1:{port}/readyz: ready"
        plain = health("--port", str(port))  # asked over plain HTTP, a TLS server does not answer it
        assert plain.returncode == 1 and f"http://127.0.0.1:{port}/readyz" in plain.stderr
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_server_whose_decision_log_cannot_be_written_is_not_ready(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the log's folder should be\n")
    srv = Server(tmp_path, OPEN_E, "--decision-log", str(tmp_path / "not-a-folder" / "decisions.sqlite3"))
    try:
        r = None
        for _ in range(300):  # bounded: until the server answers /readyz at all (then 503, never 200)
            r = health("--port", str(srv.port))
            if "no answer" not in r.stderr:
                break
            assert srv.proc.poll() is None, srv.stderr()
        assert r is not None and r.returncode == 1
        assert "not ready (503: its decision log is not being written" in r.stderr, r.stderr
    finally:
        srv.stop()
