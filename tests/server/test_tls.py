"""HTTPS with `--ssl-certfile/--ssl-keyfile`: a CA and a certificate for 127.0.0.1 made here
(trustme), real requests on loopback verified against that CA; an encrypted key with its
password from the environment and two workers; unusable files refused before the server starts."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from .conftest import OPEN_E, REPO, SCRIPT, free_port

pytestmark = pytest.mark.slow  # starts server processes

Q = {"action": "use", "data": "email", "source": "contact", "purpose": "marketing.newsletter",
     "facts": ["newsletter_form"]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    (d / "key.enc.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.BestAvailableEncryption(b"s3cret pass")))
    other = trustme.CA().issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(d / "other-key.pem"))
    return {"dir": d, "ca": d / "ca.pem", "cert": d / "cert.pem", "key": d / "key.pem", "enc": d / "key.enc.pem",
            "other_key": d / "other-key.pem"}


def serve_tls(workdir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    err = workdir / f"tls-{port}.err"
    with open(err, "wb") as fh:
        proc = subprocess.Popen([str(SCRIPT), "serve", str(OPEN_E), "--port", str(port), "--no-decision-log", *args],
                                stdout=subprocess.DEVNULL, stderr=fh, cwd=REPO, env={**os.environ, **(env or {})})
    return proc, port, err


def wait_https(proc: subprocess.Popen, url: str, ctx: ssl.SSLContext, err: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, err.read_text()
        try:
            if httpx.get(url + "/readyz", verify=ctx, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)


def test_https_verified_against_the_test_ca(pki):
    proc, port, err = serve_tls(pki["dir"], "--ssl-certfile", str(pki["cert"]), "--ssl-keyfile", str(pki["key"]))
    url = f"https://127.0.0.1:{port}"
    trusting = ssl.create_default_context(cafile=str(pki["ca"]))
    try:
        wait_https(proc, url, trusting, err)
        r = httpx.post(url + "/v1/decide", json=Q, verify=trusting)
        assert r.status_code == 200 and r.json()["decision"] == "allow"
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url + "/readyz", verify=ssl.create_default_context())  # the system CAs do not know it
        with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port gets no HTTP answer
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    finally:
        proc.terminate()
        proc.wait(30)
    assert f"Uvicorn running on https://127.0.0.1:{port}" in err.read_text()


def test_an_encrypted_key_its_password_from_the_environment_and_two_workers(pki):
    proc, port, err = serve_tls(pki["dir"], "--workers", "2", "--ssl-certfile", str(pki["cert"]), "--ssl-keyfile",
                                str(pki["enc"]), env={"POLICY_ENGINE_SSL_KEYFILE_PASSWORD": "s3cret pass"})
    url = f"https://127.0.0.1:{port}"
    trusting = ssl.create_default_context(cafile=str(pki["ca"]))
    try:
        wait_https(proc, url, trusting, err)
        for _ in range(10):  # new connections: both workers serve TLS
            assert httpx.post(url + "/v1/decide", json=Q, verify=trusting).json()["decision"] == "allow"
    finally:
        proc.terminate()
        proc.wait(30)
    text = err.read_text()
    assert text.count("Started server process") == 2 and "Traceback" not in text
    assert "s3cret" not in text


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([str(SCRIPT), "serve", str(OPEN_E), "--port", str(free_port()), *args], capture_output=True,
                         text=True, timeout=60, cwd=REPO, env={**os.environ, **(env or {})})
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "Started server process" not in out.stderr
    return out.stderr.split("Error: ", 1)[1].strip()


def test_unusable_certificates_are_refused_before_the_server_starts(pki):
    missing = pki["dir"] / "missing.pem"
    assert refused("--ssl-certfile", str(missing)) == \
        f"--ssl-certfile {missing}: no such file (--ssl-certfile from command line)"
    assert refused("--ssl-certfile", str(pki["dir"])) == \
        f"--ssl-certfile {pki['dir']} is a folder; name a PEM file (--ssl-certfile from command line)"
    assert refused("--ssl-certfile", str(OPEN_E)).startswith(f"--ssl-certfile {OPEN_E} is not PEM")
    assert refused("--ssl-certfile", str(pki["cert"])) == (
        f"--ssl-certfile {pki['cert']} holds no private key; pass its key with --ssl-keyfile (or append the key "
        "to the certificate file) (--ssl-certfile from command line)")
    assert refused("--ssl-certfile", str(pki["cert"]), "--ssl-keyfile", str(pki["other_key"])).startswith(
        f"--ssl-keyfile {pki['other_key']} is not the key of the certificate in {pki['cert']}")
    assert refused("--ssl-certfile", str(pki["cert"]), "--ssl-keyfile", str(pki["enc"]),
                   env={"POLICY_ENGINE_SSL_KEYFILE_PASSWORD": "wrong"}).startswith(
        f"--ssl-keyfile {pki['enc']}: the key is encrypted and --ssl-keyfile-password is wrong")
    assert refused("--ssl-certfile", str(pki["cert"]), "--ssl-keyfile", str(pki["enc"])) == (
        f"--ssl-keyfile {pki['enc']}: the key is encrypted; give its password with POLICY_ENGINE_SSL_KEYFILE_PASSWORD "
        "(or ssl-keyfile-password in the config file) (--ssl-certfile from command line)")
    assert refused("--ssl-keyfile", str(pki["key"])) == \
        "--ssl-keyfile (from command line) needs --ssl-certfile, the certificate it belongs to"
    assert refused(env={"POLICY_ENGINE_SSL_CERTFILE": str(missing)}) == \
        f"--ssl-certfile {missing}: no such file (--ssl-certfile from environment POLICY_ENGINE_SSL_CERTFILE)"
