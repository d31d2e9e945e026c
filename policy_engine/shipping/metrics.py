"""The shipper's counters as Prometheus metrics (`ship-logs --metrics-port`), read from the
shipper when scraped, so the numbers are the ones its status file shows:

    policy_engine_ship_events_total{outcome="read|shipped|dropped|rejected"}
    policy_engine_ship_failed_uploads_total
    policy_engine_ship_buffered_events
    policy_engine_ship_collector_up
    policy_engine_ship_cursor                 the last row id acknowledged (or given up on)

prometheus-client comes with the [server] extra (a shipper runs beside a replica's server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from policy_engine.shipping.shipper import Counters


class _ShipperCollector(Collector):
    def __init__(self, counters: Callable[[], Counters]):
        self._counters = counters

    def collect(self) -> Iterator[Any]:
        c = self._counters()
        events = CounterMetricFamily("policy_engine_ship_events", "Decision-log events by what became of them",
                                     labels=["outcome"])
        for outcome in ("read", "shipped", "dropped", "rejected"):
            events.add_metric([outcome], getattr(c, outcome))
        yield events
        yield CounterMetricFamily("policy_engine_ship_failed_uploads", "Upload attempts that will be retried",
                                  value=c.failed_uploads)
        yield GaugeMetricFamily("policy_engine_ship_buffered_events", "Events held, not yet acknowledged",
                                value=c.buffered)
        yield GaugeMetricFamily("policy_engine_ship_collector_up", "1 when the last upload was answered",
                                value=1 if c.collector_up else 0)
        yield GaugeMetricFamily("policy_engine_ship_cursor", "The last row id acknowledged or given up on",
                                value=c.cursor)


def serve_metrics(counters: Callable[[], Counters], host: str, port: int) -> Callable[[], None]:
    """Start the /metrics endpoint in a thread; returns the function that stops it."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_ShipperCollector(counters))
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
