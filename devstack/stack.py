"""The local stack: components started in order, stopped in reverse, one shared state.

A component is anything with a `name`, `start(stack)` and `stop()`. It reads what earlier
components put on the `Stack` (the AWS endpoint, the provisioned infra, the loaded app)
and adds its own: the embedded AWS, the app, the admin endpoint (post-to-connection,
invoke), the websocket API, the event pump (with the schedules), and the REST API last.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .infra import ROOT, Context

if TYPE_CHECKING:  # the components' types; they import this module, never the reverse
    import boto3
    from chalice.app import Chalice
    from chalice.config import Config

    from .pump import Invoke, Pump
    from .schedule import Scheduler
    from .websocket import Connections

HOST = "127.0.0.1"
REGION = "us-east-1"
STAGE = "local"
# Names match the local stage's table names in .chalice/config.json (tandem-local-...).
STACK_NAME = "tandem-local"
STATE_DIR_ENV = "TANDEM_STATE_DIR"
LOCAL_JSON = "local.json"
PORT_ENV = {
    "api": ("TANDEM_API_PORT", 8000),
    "ws": ("TANDEM_WS_PORT", 8001),
    "aws": ("TANDEM_AWS_PORT", 4566),
}


class StackError(RuntimeError):
    """A problem the user can fix (a busy port, a drifted config); printed without a trace."""


@dataclass(frozen=True)
class Ports:
    api: int
    ws: int
    aws: int

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> Ports:
        values: dict[str, int] = {}
        for key, (name, default) in PORT_ENV.items():
            raw = env.get(name) or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise StackError(f"{name}={raw!r} is not a port number")
            values[key] = int(raw)
        if len(set(values.values())) != len(values):
            raise StackError(f"the ports must differ: {values}")
        return cls(**values)


def state_dir(env: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    return Path(env.get(STATE_DIR_ENV) or ROOT / ".tandem")


@dataclass
class Stack:
    """What the components share. Earlier components fill fields later ones read."""

    ports: Ports
    state_dir: Path
    host: str = HOST
    region: str = REGION
    stage: str = STAGE
    stack_name: str = STACK_NAME
    aws_endpoint: str = ""
    session: boto3.Session | None = None  # its clients talk to the embedded AWS
    infra: Context | None = None
    app: Chalice | None = None  # loaded in the local stage
    chalice_config: Config | None = None
    invoke: Invoke | None = None  # calls a handler of the app as Lambda would (invoker())
    websockets: Connections | None = None  # the open sockets
    pump: Pump | None = None  # run by devstack.pump_thread.EventPump
    scheduler: Scheduler | None = None  # run by the same thread
    admin_url: str = ""  # devstack.admin: post-to-connection, invoke, schedules
    # The event pump's stream positions, saved with the embedded AWS's state (devstack.aws).
    pump_positions: dict[str, str] = field(default_factory=dict)
    save_pump_positions: Any = None  # Callable[[dict[str, str]], None]
    # File descriptors the embedded AWS's process inherits (the state dir's lock).
    held_fds: tuple[int, ...] = ()
    contract_written: bool = False
    summary: list[tuple[str, str]] = field(default_factory=list)

    def invoker(self) -> Invoke:
        """One Lambda-like invoker of the app's handlers, shared by the components."""
        if self.invoke is None:
            if self.app is None:
                raise RuntimeError("the app is not loaded yet")
            from .pump import lambda_invoker

            self.invoke = lambda_invoker(self.app, self.stage)
        return self.invoke

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.ports.api}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ports.ws}"

    @property
    def local_json(self) -> Path:
        return self.state_dir / LOCAL_JSON

    def loaded_app(self) -> Chalice:
        if self.app is None:
            raise RuntimeError("the app is not loaded yet")
        return self.app

    def provisioned(self) -> Context:
        if self.infra is None:
            raise RuntimeError("the embedded AWS has not been provisioned yet")
        return self.infra

    def contract(self) -> dict[str, str]:
        """.tandem/local.json: what clients and tools need to talk to the stack."""
        infra = self.provisioned()
        contract = {
            "apiUrl": self.api_url,
            "wsUrl": self.ws_url,
            "awsEndpoint": self.aws_endpoint,
            "region": self.region,
            "userPoolId": infra.names["UserPool"],
            "userPoolClientId": infra.names["UserPoolClient"],
        }
        if self.admin_url:
            contract["adminUrl"] = self.admin_url
        return contract


class BackgroundServer:
    """A socketserver-style server answering from a daemon thread, and its clean stop."""

    def __init__(self, server: Any, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class Component(Protocol):
    name: str

    def start(self, stack: Stack) -> None: ...

    def stop(self) -> None: ...


LOCK_FILE = "stack.lock"


def lock_state_dir(path: Path) -> int:
    """Locks `path` for this stack (and the processes it passes the lock to) until they
    all exit; the lock's file descriptor. A stack that runs there already is an error:
    two stacks would overwrite each other's state and contract."""
    import fcntl

    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StackError(
            f"another local stack (pid {holder}) is running with the state dir {path}; "
            f"stop it first, or set {STATE_DIR_ENV} to another directory"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def write_contract(stack: Stack) -> Path:
    path = stack.local_json
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(stack.contract(), indent=2) + "\n")
    os.replace(partial, path)
    stack.contract_written = True
    return path


def remove_contract(stack: Stack) -> None:
    if not stack.contract_written:
        return  # not ours: this stack never got as far as writing it
    try:
        current = json.loads(stack.local_json.read_text())
    except (OSError, ValueError):
        return
    # Only our own: another stack may have started on other ports since.
    if current.get("apiUrl") == stack.api_url:
        stack.local_json.unlink(missing_ok=True)


def summary_text(stack: Stack, seconds: float) -> str:
    rows = [
        ("API", stack.api_url),
        ("Websocket", f"{stack.ws_url}/?token=<ID token>"),
        ("AWS (moto)", f"{stack.aws_endpoint} region {stack.region}"),
        *stack.summary,
        ("Contract", str(stack.local_json)),
        ("Get a token", "make token EMAIL=you@example.com"),
        *([("Invoke", "python -m devstack invoke <function>")] if stack.admin_url else []),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"Tandem local stack (stage {stack.stage}, stack {stack.stack_name})"]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines.append(f"Tandem is ready in {seconds:.1f} s on {stack.api_url} (Ctrl-C stops it)")
    return "\n".join(lines)


def run(
    stack: Stack,
    components: Sequence[Component],
    stop: threading.Event,
    started_at: float,
    say: Any = print,
) -> None:
    """Starts the components in order, announces readiness, waits for `stop`, then stops
    whatever started, in reverse order (also when a start fails)."""
    started: list[Component] = []
    try:
        for component in components:
            if stop.is_set():
                return
            component.start(stack)
            started.append(component)
        write_contract(stack)
        say(summary_text(stack, time.perf_counter() - started_at), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        remove_contract(stack)
        for component in reversed(started):
            try:
                component.stop()
            except Exception as error:  # one component's failure must not keep others up
                say(f"stopping {component.name} failed: {error!r}", flush=True)
