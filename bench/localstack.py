"""The local stack for benchmarks: a running one (its .tandem/local.json), or one started
here on free 127.0.0.1 ports and stopped at the end; users signed up over Cognito; the
stack's memory from /proc."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Bench-pass-1!"
READY_SECONDS = 120.0


@dataclass
class LocalStack:
    contract: dict[str, str]
    pid: int | None  # the stack's process, when known

    @property
    def api(self) -> tuple[str, int]:
        host, port = self.contract["apiUrl"].split("://")[1].split(":")
        return host, int(port)

    def peak_memory_mib(self) -> float | None:
        """Peak resident memory (VmHWM) of the stack's process and its children."""
        if self.pid is None:
            return None
        return sum(_peak_kib(pid) for pid in [self.pid, *_descendants(self.pid)]) / 1024


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _pid_listening_on(port: int) -> int | None:
    """The process whose socket listens on 127.0.0.1:`port` (Linux /proc), if visible."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            inodes.add(fields[9])
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def local_stack(attach: bool) -> Iterator[LocalStack]:
    """`attach`: the stack of .tandem/local.json (TANDEM_STATE_DIR), which must answer;
    otherwise a fresh one on free ports, stopped (SIGINT) at the end."""
    if attach:
        state = Path(os.environ.get("TANDEM_STATE_DIR") or ROOT / ".tandem") / "local.json"
        contract = json.loads(state.read_text())
        if not _answers(contract["apiUrl"]):
            raise SystemExit(f"the stack of {state} does not answer: start it (make run)")
        port = int(contract["apiUrl"].rsplit(":", 1)[1])
        yield LocalStack(contract, _pid_listening_on(port))
        return
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as state_dir:
        api, ws, aws = _free_ports(3)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            TANDEM_API_PORT=str(api),
            TANDEM_WS_PORT=str(ws),
            TANDEM_AWS_PORT=str(aws),
            TANDEM_STATE_DIR=state_dir,
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        log = Path(state_dir) / "stack.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        try:
            deadline = time.monotonic() + READY_SECONDS
            while "is ready" not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the stack did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            contract = json.loads((Path(state_dir) / "local.json").read_text())
            yield LocalStack(contract, process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cognito(contract: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "cognito-idp",
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def sign_up(contract: dict[str, str], email: str) -> tuple[str, str]:
    """A new confirmed user of the stack's pool: (sub, ID token)."""
    client = cognito(contract)
    signed_up = client.sign_up(
        ClientId=contract["userPoolClientId"],
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    client.admin_confirm_sign_up(UserPoolId=contract["userPoolId"], Username=email)
    tokens = client.initiate_auth(
        ClientId=contract["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return signed_up["UserSub"], tokens["IdToken"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")
