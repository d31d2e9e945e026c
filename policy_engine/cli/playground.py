"""`policy-engine playground [POLICY]`: the playground page on loopback, for trying a policy in the
browser (the decision server also mounts it at /playground)."""

from __future__ import annotations

import sys
import webbrowser

import click

from policy_engine.cli import extras
from policy_engine.cli.common import load_or_exit

DEFAULT_PORT = 8282


@click.command("playground")
@click.argument("policy", required=False, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The page checks any text it is sent: keep it on loopback.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port, printed at start).")
@click.option("--open/--no-open", "open_browser", default=False, show_default=True,
              help="Open the page in the default web browser.")
def playground_command(policy: str | None, host: str, port: int, open_browser: bool) -> None:
    """Try a policy in the browser: edit it with diagnostics as you type, ask questions, see what the
    edit changes against the file, the rendered document and the data map. Nothing is written to
    disk. Without POLICY, a small example."""
    import socket

    extras.require("server", "playground")  # the page is served by the server's web stack
    import uvicorn

    from policy_engine.playground import create_app

    if policy is not None:
        load_or_exit(policy)  # a missing or unreadable file is reported now, not in the browser
    try:
        sock = socket.create_server((host, port))
    except OSError as err:
        raise click.UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}"
                               + (" (another program uses it; try --port 0)" if port else "")) from None
    url = f"http://{host}:{sock.getsockname()[1]}/"
    click.echo(f"policy-engine playground: {url} (Ctrl-C to stop)", err=True)
    sys.stderr.flush()
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(create_app(policy), log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
