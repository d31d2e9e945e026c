"""`policy-engine health`: ask a running server's `GET /readyz`, exit 0 when it is ready.

Why a command: a container's HEALTHCHECK (and a systemd or Kubernetes exec probe) must agree with
the server it probes, and the server's address and scheme come from its settings. This command
reads the same ones as `serve` (`--host`, `--port`, `--ssl-certfile`, their POLICY_ENGINE_*
variables and `--config FILE`), so the image's probe keeps working when TLS is turned on or the
port is moved by the environment. A server bound to every address (0.0.0.0, ::) is asked on
loopback.

Over HTTPS the certificate is not verified: this probe asks whether the process on this machine
answers, it does not authenticate it (a certificate for a public name would not match 127.0.0.1
anyway). Standard library only: the probe runs every few seconds and must start fast.
"""

from __future__ import annotations

import json
import ssl
import sys
import urllib.error
import urllib.request
from typing import Any

import click

from policy_engine.cli.serve_options import some_serve_options

_ANY = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def probe_url(host: str, port: int, tls: bool) -> str:
    """The URL of /readyz on a server listening on `host`:`port`."""
    host = _ANY.get(host, host)
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/readyz"


def _why(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        log = data.get("decision_log")
        if isinstance(log, dict) and log.get("healthy") is False:
            return "its decision log is not being written (see the server's own log)"
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return ", ".join(f"{k}: {v}" for k, v in data.items() if k != "policy") or "no reason given"
    return str(data)


@click.command("health")
@some_serve_options({"host": "The address the server listens on (0.0.0.0 and :: are asked on loopback).",
                     "port": "The port the server listens on.",
                     "ssl_certfile": "The server's certificate: set, the server is asked over HTTPS."})
@click.option("--url", metavar="URL", help="Ask this URL instead of the one made from the server's settings.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Seconds to wait for the answer.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the server is ready.")
def health(host: str, port: int, ssl_certfile: str | None, url: str | None, timeout: float, quiet: bool) -> None:
    """Ask a running server whether it is ready (GET /readyz); exit 0 if it is, 1 if not.

    The address and scheme come from the same settings as `serve` (flags, POLICY_ENGINE_* variables,
    --config), so the same environment that starts the server probes it: the container image's
    HEALTHCHECK runs this command.
    """
    target = url or probe_url(host, port, ssl_certfile is not None)
    context = None
    if target.startswith("https:"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(target, timeout=timeout, context=context) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        click.echo(f"policy-engine health: {target}: no answer ({reason})", err=True)
        sys.exit(1)
    if status != 200:
        click.echo(f"policy-engine health: {target}: not ready ({status}: {_why(body)})", err=True)
        sys.exit(1)
    if not quiet:
        click.echo(f"{target}: ready")
