"""The floor app at N workers the way `policy-engine serve --workers N` runs them: uvicorn's
supervisor with a listening socket per worker (policy_engine/cli/serve_workers.py), so "two workers
against one" compares the server with a floor whose connections are spread alike.

    python bench/floor_serve.py --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from policy_engine.cli import serve_workers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()
    config = uvicorn.Config("floor_app:app", host=args.host, port=args.port,
                            workers=args.workers, http="httptools", access_log=False, lifespan="off",
                            log_level=args.log_level)
    serve_workers.run(config)


if __name__ == "__main__":
    main()
