"""End to end: `python -m devstack` in a subprocess on free ports, driven only over HTTP
and the Cognito API, as the mobile app would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.tokens import BAD_KINDS, bad_authorizations

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Bounded waits for what the event pump delivers (it polls every 0.2 s, every 1 s idle).
PUMP_TIMEOUT = 20.0
PASSWORD = "Tandem-e2e-pass-1"
SEED_TASK = {
    "title": "My Task",
    "status": "Active",
    "targetDate": None,
    "startDate": None,
    "isCompleted": False,
}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    state_dir: Path
    log: Path
    ready_seconds: float

    @property
    def contract(self) -> dict[str, str]:
        contract: dict[str, str] = json.loads((self.state_dir / "local.json").read_text())
        return contract

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode


def stack_env(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({f"TANDEM_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["TANDEM_STATE_DIR"] = str(state_dir)
    return env


def start_stack(state_dir: Path, env: dict[str, str] | None = None) -> RunningStack:
    """Starts the stack and waits (bounded) for its ready line; stops it if it never comes."""
    state_dir.mkdir(parents=True, exist_ok=True)
    api, ws, aws = free_ports(3)
    env = env or stack_env(state_dir, {"api": api, "ws": ws, "aws": aws})
    log = state_dir / "stack.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    stack = RunningStack(process, state_dir, log, 0.0)
    try:
        while "is ready" not in log.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"the stack exited with {process.returncode}:\n{stack.log_tail()}")
            if time.monotonic() - started > READY_TIMEOUT:
                pytest.fail(f"the stack was not ready in {READY_TIMEOUT} s:\n{stack.log_tail()}")
            time.sleep(0.05)
    except BaseException:
        stack.stop()
        raise
    stack.ready_seconds = time.monotonic() - started
    return stack


# ---- a client, as the mobile app would be -------------------------------------------


@dataclass
class Reply:
    status: int
    headers: Message
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def call(
    contract: dict[str, str],
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    authorization: str | None = None,
) -> Reply:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if authorization is not None:
        headers["Authorization"] = authorization
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        contract["apiUrl"] + path, data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@dataclass
class Account:
    email: str
    sub: str
    id_token: str
    access_token: str


def cognito(contract: dict[str, str]) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
    )


def sign_up_and_in(contract: dict[str, str], email: str) -> Account:
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
    return Account(email, signed_up["UserSub"], tokens["IdToken"], tokens["AccessToken"])


@pytest.fixture(scope="module")
def alice(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "alice@example.com")


@pytest.fixture(scope="module")
def bob(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "bob@example.com")


def create_project(contract: dict[str, str], user: Account, name: str) -> dict[str, Any]:
    reply = call(contract, "POST", "/projects", user.id_token, {"name": name})
    assert reply.status == 201, reply.json
    project: dict[str, Any] = reply.json
    return project


# ---- the tests ----------------------------------------------------------------------


def test_contract_file_names_every_endpoint(running: RunningStack, contract: dict[str, str]):
    assert set(contract) >= {
        "apiUrl",
        "wsUrl",
        "awsEndpoint",
        "region",
        "userPoolId",
        "userPoolClientId",
    }
    for key in ("apiUrl", "wsUrl", "awsEndpoint", "adminUrl"):
        assert contract[key].split("://")[1].startswith("127.0.0.1:"), contract[key]
    assert contract["wsUrl"].startswith("ws://")
    assert running.ready_seconds < READY_TIMEOUT


def test_health_needs_no_token(contract: dict[str, str]):
    reply = call(contract, "GET", "/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok"}
    assert reply.headers["X-Request-Id"]


def test_sign_up_and_sign_in(contract: dict[str, str]):
    account = sign_up_and_in(contract, "dana@example.com")
    reply = call(contract, "GET", "/projects", account.id_token)
    assert reply.status == 200, reply.json
    assert reply.json == {"items": [], "nextCursor": None}
    # A wrong password is refused by the pool.
    with pytest.raises(cognito(contract).exceptions.NotAuthorizedException):
        cognito(contract).initiate_auth(
            ClientId=contract["userPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": account.email, "PASSWORD": "Wrong-password-1"},
        )


def test_crud_with_the_seed_body(contract: dict[str, str], alice: Account):
    project = create_project(contract, alice, "Inbox")
    created = call(
        contract, "POST", "/tasks", alice.id_token, {**SEED_TASK, "projectId": project["projectId"]}
    )
    assert created.status == 201, created.json
    task = created.json
    assert task["title"] == "My Task"
    assert task["projectId"] == project["projectId"]
    path = f"/tasks/{task['taskId']}"

    read = call(contract, "GET", path, alice.id_token)
    assert read.status == 200
    assert read.headers["ETag"] == '"1"'
    listed = call(contract, "GET", f"/tasks?projectId={project['projectId']}", alice.id_token)
    assert [t["taskId"] for t in listed.json["items"]] == [task["taskId"]]

    patched = call(contract, "PATCH", path, alice.id_token, {"isCompleted": True})
    assert patched.status == 200, patched.json
    assert patched.json["isCompleted"] is True
    assert patched.json["version"] == 2

    assert call(contract, "DELETE", path, alice.id_token).status == 204
    gone = call(contract, "GET", path, alice.id_token)
    assert gone.status == 404
    assert gone.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_bad_token_is_a_401_problem(contract: dict[str, str], alice: Account, method: str):
    bad = bad_authorizations(alice.id_token, alice.access_token)
    for kind in BAD_KINDS:
        body = {"name": f"written with {kind}"} if method == "POST" else None
        # A dropped connection or a 500 would raise or fail here.
        reply = call(contract, method, "/projects", body=body, authorization=bad[kind])
        assert reply.status == 401, (kind, reply.status, reply.raw[:300])
        assert reply.headers["Content-Type"] == "application/problem+json", kind
        assert reply.headers["WWW-Authenticate"] == "Bearer", kind
        assert reply.json["status"] == 401, kind
    names = [p["name"] for p in call(contract, "GET", "/projects", alice.id_token).json["items"]]
    assert not [name for name in names if name.startswith("written with")]


def test_another_users_objects_are_not_found(
    contract: dict[str, str], alice: Account, bob: Account
):
    project = create_project(contract, alice, "Alice's")
    task = call(
        contract, "POST", "/tasks", alice.id_token, {**SEED_TASK, "projectId": project["projectId"]}
    ).json
    project_path = f"/projects/{project['projectId']}"
    task_path = f"/tasks/{task['taskId']}"

    for method, path, body in [
        ("GET", project_path, None),
        ("PUT", project_path, {"name": "Bob's now"}),
        ("PATCH", project_path, {"name": "Bob's now"}),
        ("DELETE", project_path, None),
        ("GET", task_path, None),
        ("PATCH", task_path, {"title": "Bob's now"}),
        ("DELETE", task_path, None),
    ]:
        reply = call(contract, method, path, bob.id_token, body)
        assert reply.status == 404, (method, path, reply.json)
        assert reply.headers["Content-Type"] == "application/problem+json"

    # Bob cannot file a task under Alice's project either, nor see her things in lists.
    refused = call(
        contract, "POST", "/tasks", bob.id_token, {**SEED_TASK, "projectId": project["projectId"]}
    )
    assert refused.status == 422, refused.json
    assert call(contract, "GET", "/projects", bob.id_token).json["items"] == []
    assert call(contract, "GET", "/tasks", bob.id_token).json["items"] == []
    # And Alice's objects are untouched.
    assert call(contract, "GET", project_path, alice.id_token).json["name"] == "Alice's"
    assert call(contract, "GET", task_path, alice.id_token).json["title"] == "My Task"


def test_project_delete_cascades_through_the_pump(contract: dict[str, str], alice: Account):
    """The delete answers at once; the pump then carries project-deleted from the
    projects table's stream through SNS and SQS to the Tasks service's cascade."""
    doomed = create_project(contract, alice, "Doomed")
    kept = create_project(contract, alice, "Kept")
    tasks = [
        call(
            contract,
            "POST",
            "/tasks",
            alice.id_token,
            {**SEED_TASK, "title": f"t{i}", "projectId": doomed["projectId"]},
        ).json
        for i in range(3)
    ]
    keeper = call(
        contract, "POST", "/tasks", alice.id_token, {**SEED_TASK, "projectId": kept["projectId"]}
    ).json
    assert (
        call(contract, "DELETE", f"/projects/{doomed['projectId']}", alice.id_token).status == 204
    )

    deadline = time.monotonic() + PUMP_TIMEOUT
    while True:
        listed = call(contract, "GET", f"/tasks?projectId={doomed['projectId']}", alice.id_token)
        statuses = [
            call(contract, "GET", f"/tasks/{task['taskId']}", alice.id_token).status
            for task in tasks
        ]
        if listed.json["items"] == [] and statuses == [404] * len(tasks):
            break
        assert time.monotonic() < deadline, (listed.json, statuses)
        time.sleep(0.2)
    remaining = {t["taskId"] for t in call(contract, "GET", "/tasks", alice.id_token).json["items"]}
    assert not remaining & {task["taskId"] for task in tasks}
    assert keeper["taskId"] in remaining
    # A task can no longer be filed under the deleted project.
    refused = call(
        contract, "POST", "/tasks", alice.id_token, {**SEED_TASK, "projectId": doomed["projectId"]}
    )
    assert refused.status == 422, refused.json


def websocket(contract: dict[str, str], token: str | None) -> ClientConnection:
    query = "" if token is None else "?" + urllib.parse.urlencode({"token": token})
    return connect(f"{contract['wsUrl']}/{query}", open_timeout=10, close_timeout=5)


def pushes_until(socket: ClientConnection, wanted: Any, timeout: float) -> list[Any]:
    """Messages received until one satisfies `wanted` (bounded). Pushes of changes made
    by earlier tests may still be in flight, so others can come first."""
    deadline = time.monotonic() + timeout
    received: list[Any] = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no matching push in {timeout} s; got {received}"
        message = json.loads(socket.recv(timeout=left))
        received.append(message)
        if wanted(message):
            return received


def test_websocket_gets_a_push_when_the_users_task_changes(
    contract: dict[str, str], alice: Account, bob: Account
):
    project = create_project(contract, alice, "Pushed")
    with websocket(contract, alice.id_token) as mine, websocket(contract, bob.id_token) as theirs:
        mine.send(json.dumps({"action": "ping"}))
        assert pushes_until(mine, lambda m: m.get("type") == "pong", 10)[-1] == {"type": "pong"}

        task = call(
            contract,
            "POST",
            "/tasks",
            alice.id_token,
            {**SEED_TASK, "projectId": project["projectId"]},
        ).json
        pushed = pushes_until(mine, lambda m: m.get("id") == task["taskId"], PUMP_TIMEOUT)
        assert pushed[-1] == {
            "type": "changed",
            "resource": "task",
            "id": task["taskId"],
            "version": 1,
        }
        path = f"/tasks/{task['taskId']}"
        assert call(contract, "DELETE", path, alice.id_token).status == 204
        # Alice's earlier tests' deletions may still be on their way: wait for this one.
        pushed = pushes_until(
            mine,
            lambda m: m.get("type") == "deleted" and m.get("id") == task["taskId"],
            PUMP_TIMEOUT,
        )
        assert pushed[-1] == {
            "type": "deleted",
            "resource": "task",
            "id": task["taskId"],
            "version": 2,
        }
        # Bob's socket heard nothing of Alice's task (bob himself changed nothing).
        with pytest.raises(TimeoutError):
            theirs.recv(timeout=1.0)


@pytest.mark.parametrize("kind", ["missing", "garbage", "expired", "alg-none", "access-token"])
def test_websocket_with_a_bad_token_is_refused(contract: dict[str, str], alice: Account, kind):
    authorization = bad_authorizations(alice.id_token, alice.access_token)[kind]
    token = None if authorization is None else authorization.removeprefix("Bearer ")
    with pytest.raises(InvalidStatus) as refused:
        websocket(contract, token)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["status"] == 401


def test_token_command_prints_a_usable_id_token(running: RunningStack, contract: dict[str, str]):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TANDEM_STATE_DIR"] = str(running.state_dir)
    command = [sys.executable, "-m", "devstack", "token", "erin@example.com"]
    tokens = [
        subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
        for _ in range(2)  # the second time the user exists already
    ]
    for token in tokens:
        assert call(contract, "GET", "/projects", token).status == 200


def test_sigint_stops_everything_cleanly(tmp_path: Path):
    stack = start_stack(tmp_path)
    contract = stack.contract
    assert call(contract, "GET", "/health").status == 200
    assert stack.stop(signal.SIGINT) == 0, stack.log_tail()
    assert "stopped" in stack.log_tail()
    assert not (tmp_path / "local.json").exists()
    for url in (
        contract["apiUrl"],
        contract["wsUrl"],
        contract["awsEndpoint"],
        contract["adminUrl"],
    ):
        port = int(url.rsplit(":", 1)[1])
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"{url} still answers"


@pytest.mark.parametrize("component", ["aws", "ws", "api"])
def test_busy_port_is_a_clear_error(tmp_path: Path, component: str):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = dict(zip(["api", "ws", "aws"], free_ports(3), strict=True))
        ports[component] = busy.getsockname()[1]
        env = stack_env(tmp_path, ports)
        result = subprocess.run(
            [sys.executable, "-m", "devstack"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT,
            check=False,
        )
    assert result.returncode == 1, result.stderr
    assert f"TANDEM_{component.upper()}_PORT" in result.stderr
    assert "Traceback" not in result.stderr
