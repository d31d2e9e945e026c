"""`policy-engine ship-logs`: follow a replica's decision log and upload it to a collector
(policy_engine/shipping). Runs until SIGTERM or Ctrl-C, then prints its counters as JSON."""

from __future__ import annotations

import json
import logging
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import click

from policy_engine.cli import extras
from policy_engine.cli.common import EXIT_USAGE


@click.command("ship-logs")
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="The replica's SQLite decision log (read-only; it may not exist yet).")
@click.option("--url", required=True, metavar="URL",
              help="Where to POST batches: gzip JSON arrays of OPA-shaped decision events.")
@click.option("--replica", default=socket.gethostname(), show_default="the host name",
              help="This replica's name: labels.id of each event, and the prefix of its decision_id.")
@click.option("--buffer", default=10_000, show_default=True, type=click.IntRange(1),
              help="Events held at most while the collector is down; older ones are dropped and counted.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1), help="Events per upload.")
@click.option("--poll", default=0.5, show_default=True, type=click.FloatRange(0.01, 3600),
              help="Seconds between looks at the log when nothing is new.")
@click.option("--max-backoff", default=30.0, show_default=True, type=click.FloatRange(0.01, 3600),
              help="Longest wait between retries of a failed upload.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Keep the last acknowledged row here, so a restart neither re-sends nor skips.")
@click.option("--status", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Write the counters (read, shipped, dropped, rejected, ...) here as JSON after each change.")
@click.option("--metrics-port", type=click.IntRange(1, 65535),
              help="Serve the counters as Prometheus metrics at http://HOST:PORT/metrics (needs the server extra).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@click.option("--from-end", is_flag=True, help="Without saved state, skip the rows already in the log.")
@click.option("--token-file", type=click.File("r"), help="Send `Authorization: Bearer` with the first token in it.")
def ship_logs(db: Path, url: str, replica: str, buffer: int, batch_size: int, poll: float, max_backoff: float,
              state: Path | None, status: Path | None, metrics_port: int | None, metrics_host: str, from_end: bool,
              token_file) -> None:  # type: ignore[no-untyped-def]
    """Upload a replica's decision log to a collector, with retries and a bounded buffer."""
    extras.require("client", "ship-logs")
    from policy_engine.shipping.shipper import Shipper, ShipperConfig

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http:// or https:// URL", param_hint="--url")
    headers = {}
    if token_file is not None:
        tokens = [t.strip() for t in token_file if t.strip() and not t.startswith("#")]
        if not tokens:
            raise click.BadParameter(f"{token_file.name} holds no token", param_hint="--token-file")
        headers["Authorization"] = f"Bearer {tokens[0]}"
    try:
        config = ShipperConfig(db=db, url=url, replica=replica, buffer=buffer, batch_size=min(batch_size, buffer),
                               poll=poll, max_backoff=max_backoff, state=state, status=status, from_end=from_end,
                               headers=headers)
        shipper = Shipper(config)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: shipper.stop())
    logging.getLogger("policy_engine.shipping").info("ship-logs: %s -> %s as %r", db, url, replica)
    stop_metrics = None
    if metrics_port is not None:
        extras.require("server", "ship-logs --metrics-port")
        from policy_engine.shipping.metrics import serve_metrics

        try:
            stop_metrics = serve_metrics(lambda: shipper.counters, metrics_host, metrics_port)
        except OSError as err:
            raise click.UsageError(f"--metrics-port {metrics_port}: cannot listen on {metrics_host}: {err.strerror}")
    try:
        counters = shipper.run()
    except sqlite3.DatabaseError as err:
        click.echo(f"policy-engine ship-logs: cannot read {db}: {err} (is it the decision log `serve` writes?)",
                   err=True)
        sys.exit(EXIT_USAGE)
    finally:
        if stop_metrics is not None:
            stop_metrics()
    click.echo(json.dumps(counters.__dict__))
