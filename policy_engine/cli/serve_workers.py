"""`serve --workers N`: uvicorn's supervisor, N worker processes, each with a listening socket of its
own on the same port (SO_REUSEPORT), where it can be had.

Why a socket each: with one socket shared by every worker, a new connection goes to whichever
worker's event loop wakes first, and that loop accepts every connection waiting at once. So a
burst of connections (a client's pool opening, a load balancer's keep-alive connections after a
restart) often lands on one worker, and stays there as long as the connections do: measured with
wrk's 16 connections at two workers, now and then a whole round ran at one worker's rate, the
other worker idle. With SO_REUSEPORT the kernel spreads the connections over the sockets by a hash
of each connection's addresses, whichever worker is awake.

What stays as uvicorn does it: the supervisor binds the sockets before starting the workers (so
a port in use fails at once), holds them while it runs (a worker that dies and is started again
gets its own socket back; connections queue there meanwhile) and closes its copies first when it
stops (so a new connection is refused once the workers stop, and a load balancer retries
elsewhere). SIGHUP reloads the policy in place in every worker (server/reload.py) instead of
restarting them. Where SO_REUSEPORT is missing (Windows), the workers share one socket, as before.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from typing import Any

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

log = logging.getLogger("policy_engine.server")


def reuse_port_sockets(config: Config, n: int) -> list[socket.socket] | None:
    """n sockets bound to the config's host and port with SO_REUSEPORT (the port of the first when
    it is 0), or None where the platform has no SO_REUSEPORT. Exits as uvicorn does when the
    address cannot be bound."""
    if not hasattr(socket, "SO_REUSEPORT") or n < 2:
        return None
    family = socket.AF_INET6 if config.host and ":" in config.host else socket.AF_INET
    sockets: list[socket.socket] = []
    port = config.port
    try:
        for _ in range(n):
            sock = socket.socket(family=family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((config.host, port))
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError as err:
        for sock in sockets:
            sock.close()
        logging.getLogger("uvicorn.error").error(err)
        sys.exit(STARTUP_FAILURE)
    scheme = "https" if config.is_ssl else "http"
    shown = f"[{config.host}]" if family == socket.AF_INET6 else config.host
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s://%s:%d (Press CTRL+C to quit)", scheme, shown, port)
    return sockets


class Supervisor(Multiprocess):
    """uvicorn's Multiprocess, giving worker k the k-th of `own` sockets (or every worker the shared
    ones), reloading on SIGHUP, and closing its sockets before the workers stop."""

    def __init__(self, config: Config, sockets: list[socket.socket], own: list[socket.socket] | None = None):
        super().__init__(config, sockets)
        self.own = own

    def _sockets_of(self, index: int) -> list[socket.socket]:
        return [self.own[index]] if self.own else self.sockets

    def init_processes(self) -> None:
        for index in range(self.processes_num):
            process = Process(self.config, self._sockets_of(index))
            process.start()
            self.processes.append(process)

    def keep_subprocess_alive(self) -> None:
        """As uvicorn's: a worker that died (or hangs) is started again, here with its own socket."""
        if self.should_exit.is_set():
            return
        timeout = getattr(self.config, "timeout_worker_healthcheck", 5)  # a setting since uvicorn 0.37
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=timeout):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app, TLS or socket is broken: it would fail again
                logging.getLogger("uvicorn.error").error(
                    f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logging.getLogger("uvicorn.error").info(f"Child process [{process.pid}] died")
            process = Process(self.config, self._sockets_of(index))
            process.start()
            self.processes[index] = process

    def handle_hup(self) -> None:  # reload in place in every worker, rather than restarting them
        log.info("SIGHUP: asking %d workers to reload", len(self.processes))
        for process in self.processes:
            if process.pid is not None:
                try:
                    os.kill(process.pid, signal.SIGHUP)
                except ProcessLookupError:
                    pass

    def terminate_all(self) -> None:
        # The supervisor's copies of the listening sockets would keep accepting connections into their
        # backlogs while the workers drain, and nobody would ever answer them: close them first, so a
        # new connection is refused (a load balancer retries elsewhere) once the workers stop too.
        for sock in [*self.sockets, *(self.own or [])]:
            sock.close()
        super().terminate_all()


def run(config: Config) -> None:
    """Bind, start config.workers workers and supervise them until SIGINT or SIGTERM."""
    own = reuse_port_sockets(config, config.workers)
    shared: list[Any] = [] if own else [config.bind_socket()]
    Supervisor(config, shared, own).run()
