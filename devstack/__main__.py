"""`python -m devstack`: runs Tandem locally (embedded AWS, the app in the local stage).

    python -m devstack [run [--fresh]]  start everything; Ctrl-C (or SIGTERM) stops it;
                                        the state is kept across runs unless --fresh
    python -m devstack token EMAIL      sign EMAIL up and in; print its ID token
    python -m devstack invoke FUNCTION  run one of the app's event functions now (a
                                        scheduled one with EventBridge's event; others
                                        with --event JSON); print its result
    python -m devstack schedules        the scheduled functions and their next fire times

Ports: TANDEM_API_PORT (8000), TANDEM_WS_PORT (8001), TANDEM_AWS_PORT (4566).
The contract file goes to $TANDEM_STATE_DIR/local.json (default .tandem/local.json), the
saved state of the embedded AWS to aws-state.pickle next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from types import FrameType
from typing import Any

from .stack import (
    LOCAL_JSON,
    Component,
    Ports,
    Stack,
    StackError,
    lock_state_dir,
    run,
    state_dir,
)
from .users import DEFAULT_PASSWORD, id_token, read_contract

# The heavy imports (moto, boto3, chalice, the app) happen while starting, after this.
STARTED_AT = time.perf_counter()


def default_components(fresh: bool = False) -> list[Component]:
    from .admin import AdminServer
    from .api import ChaliceApp, LocalApi
    from .aws import EmbeddedAws
    from .pump_thread import EventPump
    from .websocket import LocalWebsocket

    # The admin endpoint first (it gives the app its post-to-connection session), and
    # everything behind the API before the API: the API answering is "ready".
    aws = EmbeddedAws(fresh)
    return [aws, ChaliceApp(), AdminServer(), LocalWebsocket(), EventPump(), LocalApi()]


def run_stack(fresh: bool = False) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: the user is not waiting for a clean stop
            os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    from .chaos import Chaos

    Chaos.from_env()  # a bad CHAOS spec fails here, in one line, before anything starts
    ports, directory = Ports.from_env(), state_dir()
    lock = lock_state_dir(directory)
    stack = Stack(ports=ports, state_dir=directory, held_fds=(lock,))
    run(stack, default_components(fresh), stop, STARTED_AT)
    print("Tandem local stack stopped.", flush=True)
    return 0


def print_token(email: str, password: str) -> int:
    contract = read_contract(state_dir() / LOCAL_JSON)
    print(id_token(contract, email, password))
    return 0


def admin_call(method: str, path: str, body: bytes | None = None) -> Any:
    """A call to the running stack's admin endpoint (its URL is in local.json)."""
    contract = read_contract(state_dir() / LOCAL_JSON)
    url = contract.get("adminUrl")
    if not url:
        raise StackError("the running stack has no admin endpoint (adminUrl in local.json)")
    request = urllib.request.Request(url + path, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("message", error.reason)
        raise StackError(f"{path}: {error.code} {detail}") from None
    except urllib.error.URLError as error:
        raise StackError(f"no local stack answers at {url}: {error.reason}") from None


def invoke(function: str, event: str | None) -> int:
    body = None
    if event is not None:
        try:
            json.loads(event)
        except ValueError:
            raise StackError("--event must be JSON") from None
        body = event.encode()
    answer = admin_call("POST", f"/invoke/{urllib.parse.quote(function, safe='')}", body)
    print(json.dumps(answer["result"], indent=2, default=str))
    return 0


def schedules() -> int:
    for job in admin_call("GET", "/schedules"):
        print(f"{job['function']}\t{job['expression']}\tnext {job['nextFire']}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    runner = commands.add_parser("run", help="start the local stack (the default)")
    runner.add_argument(
        "--fresh", action="store_true", help="discard the saved state and start from scratch"
    )
    token = commands.add_parser("token", help="create a user if needed; print its ID token")
    token.add_argument("email")
    token.add_argument(
        "--password",
        default=os.environ.get("TANDEM_PASSWORD", DEFAULT_PASSWORD),
        help="default: $TANDEM_PASSWORD or a local-only default",
    )
    invoker = commands.add_parser("invoke", help="run one of the app's event functions now")
    invoker.add_argument("function")
    invoker.add_argument("--event", help="the event, as JSON (default: a scheduled event)")
    commands.add_parser("schedules", help="the scheduled functions and their next fire times")
    args = parser.parse_args(argv)
    try:
        if args.command == "token":
            return print_token(args.email, args.password)
        if args.command == "invoke":
            return invoke(args.function, args.event)
        if args.command == "schedules":
            return schedules()
        return run_stack(fresh=getattr(args, "fresh", False))
    except StackError as error:
        print(f"devstack: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
