"""The embedded AWS in a process of its own: moto's server on a socket the parent bound,
its state restored at start and saved at stop.

    python -m devstack.moto_server --fd N [--state FILE] [--fresh]

Run by devstack.aws, never by hand. Its own process, so that moto and the app each have
a core and a GIL. The protocol with the parent:
- stdout: one JSON line once the state is restored and the server answers:
  {"ready": true, "restored": bool, "pump": {...}}, or {"error": "..."} and exit 1;
- stdin: JSON lines {"pump": {...}} (the event pump's stream positions, saved with the
  state so that events committed before a stop are delivered after it, exactly once);
  end of file (the parent stopped, or died) saves the state and exits;
- SIGINT is ignored (Ctrl-C reaches the whole process group: the parent decides the
  order of the stop); SIGTERM saves and exits too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import snapshot

# Requests still answering when the stop comes get this long before the state is saved.
DRAIN_SECONDS = 5.0


class _InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


def _server(fd: int, in_flight: _InFlight) -> Any:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        # werkzeug writes the headers and the body in separate send()s; with Nagle's
        # algorithm the body then waits for the client's delayed ACK (~40 ms).
        disable_nagle_algorithm = True

        def handle(self) -> None:
            with in_flight:
                super().handle()

    from .chaos import Chaos

    app: Any = DomainDispatcherApplication(create_backend_app)
    chaos = Chaos.from_env()  # make run CHAOS=...: throttled writes and publishes
    if chaos is not None:
        app = chaos.wsgi(app)
    return make_server(
        "127.0.0.1",  # unused: the socket is the parent's (fd)
        0,
        app,
        threaded=True,
        request_handler=Handler,
        fd=fd,
    )


# moto keeps every message published to a topic, for tests to inspect; in a server that
# runs for days that is a leak (and part of every saved state). The last few are kept.
SENT_NOTIFICATIONS_KEPT = 100


def _bound_sent_notifications() -> None:
    from moto.sns.models import Topic

    publish = Topic.publish

    def bounded(self: Any, *args: Any, **kwargs: Any) -> Any:
        message_id = publish(self, *args, **kwargs)
        del self.sent_notifications[:-SENT_NOTIFICATIONS_KEPT]
        return message_id

    Topic.publish = bounded  # type: ignore[method-assign]


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve(fd: int, state: Path | None, fresh: bool) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

    import logging

    from . import moto_fixes

    # One line per AWS call would drown the stack's own log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_fixes.apply()
    _bound_sent_notifications()
    pump: dict[str, Any] = {}
    restored = False
    if state is not None and fresh:
        state.unlink(missing_ok=True)
    if state is not None and state.exists():
        try:
            pump = snapshot.restore(state)
        except snapshot.StateError as error:
            _say({"error": str(error)})
            return 1
        restored = True

    in_flight = _InFlight()
    server = _server(fd, in_flight)
    serving = threading.Thread(target=server.serve_forever, name="moto", daemon=True)
    serving.start()
    _say({"ready": True, "restored": restored, "pump": pump})

    def read_parent() -> None:
        for line in sys.stdin:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message.get("pump"), dict):
                pump.clear()
                pump.update(message["pump"])
        stop.set()  # end of file: the parent is gone or done

    threading.Thread(target=read_parent, name="parent", daemon=True).start()
    stop.wait()
    server.shutdown()
    server.server_close()
    in_flight.wait_idle(DRAIN_SECONDS)
    if state is not None:
        started = time.perf_counter()
        size = snapshot.save(state, pump)
        print(
            f"Local AWS state saved to {state} ({size / 1e6:.1f} MB, "
            f"{time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.moto_server")
    parser.add_argument("--fd", type=int, required=True, help="a listening socket to serve")
    parser.add_argument("--state", type=Path, help="the state file to restore and save")
    parser.add_argument("--fresh", action="store_true", help="discard the saved state first")
    args = parser.parse_args(argv)
    return serve(args.fd, args.state, args.fresh)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # daemon threads (requests, the stdin reader) need no joining
