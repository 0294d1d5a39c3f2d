"""The embedded AWS: moto's server in a child process (devstack.moto_server) on
127.0.0.1, its state kept in the state dir across restarts, provisioned from the declarations.

The socket is bound here, in the parent, before the child starts: a busy port is an
immediate one-line error, and no request is lost while the child boots (they wait in the
listen backlog). The child lives exactly as long as the parent wants it: it ends when its
stdin closes, which also happens when the parent dies, however it dies, and saves the
state first. Ctrl-C reaches both; the child ignores it and waits for the parent's stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from .infra import ROOT, Context, provision
from .stack import Stack, StackError

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Anything that would send the SDK somewhere else, or sign as someone real.
_CLEARED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_CLEARED_PREFIXES = ("AWS_ENDPOINT_URL_", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def point_sdk_at(endpoint: str, region: str, env: Any = os.environ) -> None:
    """Points boto3 (and PynamoDB, which uses botocore) of this process at `endpoint`.

    Must happen before the first client is created (docs/decisions.md).
    """
    for name in list(env):
        if name in _CLEARED_ENV or name.startswith(_CLEARED_PREFIXES):
            del env[name]
    env["AWS_ENDPOINT_URL"] = endpoint
    env["AWS_DEFAULT_REGION"] = region
    env["AWS_REGION"] = region
    env.update(DUMMY_CREDENTIALS)


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        raise StackError(
            f"cannot listen on {host}:{port} for the embedded AWS ({error.strerror}); "
            "set TANDEM_AWS_PORT to a free port"
        ) from None
    return listener


STATE_FILE = "aws-state.pickle"
READY_TIMEOUT_SECONDS = 60.0
# Saving a large state takes seconds; a child that takes longer than this is killed.
SAVE_TIMEOUT_SECONDS = 300.0


class EmbeddedAws:
    name = "aws"

    def __init__(self, fresh: bool = False) -> None:
        self.fresh = fresh
        self._child: subprocess.Popen[bytes] | None = None
        self._to_child: IO[bytes] | None = None
        self._write_lock = threading.Lock()

    def start(self, stack: Stack) -> None:
        listener = _listen(stack.host, stack.ports.aws)
        state = stack.state_dir / STATE_FILE
        command = [sys.executable, "-m", "devstack.moto_server", "--fd", str(listener.fileno())]
        command += ["--state", str(state)] + (["--fresh"] if self.fresh else [])
        try:
            self._child = subprocess.Popen(
                command,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=(listener.fileno(), *stack.held_fds),
            )
        finally:
            listener.close()  # the child has its own copy
        self._to_child = self._child.stdin
        try:
            self._provision(stack, state)
        except BaseException:
            self.stop()
            raise

    def _provision(self, stack: Stack, state: Path) -> None:
        stack.aws_endpoint = f"http://{stack.host}:{stack.ports.aws}"
        point_sdk_at(stack.aws_endpoint, stack.region)

        import boto3  # while the child starts

        ready = self._ready()
        stack.pump_positions = dict(ready.get("pump") or {})
        stack.save_pump_positions = self.save_pump_positions
        stack.session = boto3.Session(region_name=stack.region)
        stack.infra = provision(
            stack.session, Context(stack_name=stack.stack_name, region=stack.region)
        )
        names = stack.infra.names
        stack.summary.append(("User pool", f"{names['UserPool']} client {names['UserPoolClient']}"))
        restored = "restored from" if ready.get("restored") else "new, saved at stop to"
        stack.summary.append(("State", f"{restored} {state}"))

    def _ready(self) -> dict[str, Any]:
        """The child's ready line, or a StackError saying why it never came."""
        assert self._child is not None
        assert self._child.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self._child.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=READY_TIMEOUT_SECONDS)
        except queue.Empty:
            raise StackError(
                f"the embedded AWS did not start in {READY_TIMEOUT_SECONDS:g} s"
            ) from None
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError:
            code = self._child.wait()
            raise StackError(f"the embedded AWS exited with code {code} at start") from None
        if "error" in message:
            self._child.wait()
            raise StackError(f"the embedded AWS cannot start: {message['error']}")
        return message

    def save_pump_positions(self, positions: dict[str, Any]) -> None:
        """Hands the pump's stream positions to the child, which saves them with the
        tables: the two always match, whatever stops the stack."""
        line = json.dumps({"pump": positions}).encode() + b"\n"
        with self._write_lock:
            if self._to_child is None:
                return
            try:
                self._to_child.write(line)
                self._to_child.flush()
            except (BrokenPipeError, ValueError):
                pass  # the child is gone; its stop says why

    def stop(self) -> None:
        if self._child is None:
            return
        with self._write_lock:
            if self._to_child is not None:
                with contextlib.suppress(BrokenPipeError):
                    self._to_child.close()  # the child saves the state and exits
                self._to_child = None
        if self._child.stdout is not None:
            self._child.stdout.close()
        try:
            code = self._child.wait(SAVE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
            raise StackError(
                f"the embedded AWS did not save its state in {SAVE_TIMEOUT_SECONDS:g} s"
            ) from None
        finally:
            self._child = None
        if code != 0:
            raise StackError(f"the embedded AWS exited with code {code}")
