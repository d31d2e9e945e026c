"""Decision logs from every replica to one place (`policy-engine ship-logs`).

    reader.py   new rows of a replica's SQLite decision log (read-only), as OPA-shaped events
    shipper.py  the bounded buffer, gzip JSON batches over HTTP, retry with backoff, the counters
    metrics.py  those counters as Prometheus metrics (--metrics-port)

Each replica keeps writing its own SQLite log (`serve`); a shipper beside it follows the file and
uploads what is new to a collector, so the fleet's decisions can be queried in one place.
"""
