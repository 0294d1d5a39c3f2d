"""`python -m devstack`: runs Tandem locally (embedded AWS, the app in the local stage).

    python -m devstack [run]            start everything; Ctrl-C (or SIGTERM) stops it
    python -m devstack token EMAIL      sign EMAIL up and in; print its ID token

Ports: TANDEM_API_PORT (8000), TANDEM_WS_PORT (8001), TANDEM_AWS_PORT (4566).
The contract file goes to $TANDEM_STATE_DIR/local.json (default .tandem/local.json).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from types import FrameType

from .stack import LOCAL_JSON, Ports, Stack, StackError, default_components, run, state_dir
from .users import DEFAULT_PASSWORD, id_token, read_contract

# The heavy imports (moto, boto3, chalice, the app) happen while starting, after this.
STARTED_AT = time.perf_counter()


def run_stack() -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: the user is not waiting for a clean stop
            os._exit(128 + signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack = Stack(ports=Ports.from_env(), state_dir=state_dir())
    run(stack, default_components(), stop, STARTED_AT)
    print("Tandem local stack stopped.", flush=True)
    return 0


def print_token(email: str, password: str) -> int:
    contract = read_contract(state_dir() / LOCAL_JSON)
    print(id_token(contract, email, password))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start the local stack (the default)")
    token = commands.add_parser("token", help="create a user if needed; print its ID token")
    token.add_argument("email")
    token.add_argument(
        "--password",
        default=os.environ.get("TANDEM_PASSWORD", DEFAULT_PASSWORD),
        help="default: $TANDEM_PASSWORD or a local-only default",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "token":
            return print_token(args.email, args.password)
        return run_stack()
    except StackError as error:
        print(f"devstack: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
