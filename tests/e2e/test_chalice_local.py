"""Bare `chalice local` (chalicelib.core.chalice_local, devstack.chalice_local), run as a
developer would, in a subprocess on a free port: it serves only the local stage, with
tokens verified against the running stack, and otherwise refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import (
    ROOT,
    RunningStack,
    call,
    free_ports,
    sign_up_and_in,
    start_stack,
)
from tests.test_local_auth import UNPARSEABLE_BY_CHALICE
from tests.tokens import BAD_KINDS, bad_authorizations

CHALICE = str(Path(sys.executable).parent / "chalice")
START_TIMEOUT = 60.0


def chalice_env(state_dir: Path) -> dict[str, str]:
    # No AWS settings from the shell: whatever the app reaches, it gets from the stack.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["TANDEM_STATE_DIR"] = str(state_dir)
    return env


def run_refused(args: list[str], state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHALICE, "local", "--port", str(free_ports(1)[0]), *args],
        cwd=ROOT,
        env=chalice_env(state_dir),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("autoreload", ["--autoreload", "--no-autoreload"])
def test_chalice_local_without_a_stage_refuses_to_start(tmp_path: Path, autoreload: str) -> None:
    """The default stage (dev) would take an unsigned token as any user: it never serves."""
    finished = run_refused([autoreload], tmp_path)
    assert "chalice local: refusing to serve stage 'dev'" in finished.stderr
    assert "make run" in finished.stderr
    assert "Serving on" not in finished.stdout
    if autoreload == "--no-autoreload":
        assert finished.returncode == 2  # with autoreload, chalice's parent always exits 0


def test_chalice_local_in_another_stage_refuses_to_start(tmp_path: Path) -> None:
    finished = run_refused(["--stage", "prod", "--no-autoreload"], tmp_path)
    assert finished.returncode == 2
    assert "refusing to serve stage 'prod'" in finished.stderr


def test_chalice_local_without_a_running_stack_refuses_to_start(tmp_path: Path) -> None:
    finished = run_refused(["--stage", "local", "--no-autoreload"], tmp_path)
    assert finished.returncode == 2
    assert "local.json does not exist: start the stack first (make run)" in finished.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("tandem-chalice-local"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def chalice_local(stack: RunningStack) -> Iterator[dict[str, str]]:
    """`chalice local --stage local` beside the running stack; yields a contract whose
    apiUrl is chalice local's."""
    port = free_ports(1)[0]
    log = stack.state_dir / "chalice-local.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CHALICE, "local", "--stage", "local", "--port", str(port), "--no-autoreload"],
            cwd=ROOT,
            env=chalice_env(stack.state_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        while "Serving on" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                pytest.fail(f"chalice local did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        assert "tokens are verified against its pool" in log.read_text()
        yield {**stack.contract, "apiUrl": f"http://127.0.0.1:{port}"}
    finally:
        process.terminate()
        process.wait(15)


def test_chalice_local_serves_the_running_stacks_data_to_a_valid_token(
    stack: RunningStack, chalice_local: dict[str, str]
) -> None:
    account = sign_up_and_in(stack.contract, "chalice-local@example.com")
    created = call(chalice_local, "POST", "/projects", account.id_token, {"name": "Beside"})
    assert created.status == 201, created.json
    # The same tables as the stack's own API.
    fetched = call(
        stack.contract, "GET", f"/projects/{created.json['projectId']}", account.id_token
    )
    assert fetched.status == 200, fetched.json


@pytest.mark.parametrize("kind", [k for k in BAD_KINDS if k not in UNPARSEABLE_BY_CHALICE])
def test_chalice_local_refuses_every_bad_token(
    stack: RunningStack, chalice_local: dict[str, str], kind: str
) -> None:
    """An unsigned `alg: none` token above all, which chalice local itself would accept."""
    account = sign_up_and_in(stack.contract, f"chalice-local-{kind}@example.com")
    authorization = bad_authorizations(account.id_token, account.access_token)[kind]
    reply = call(chalice_local, "GET", "/projects", authorization=authorization)
    assert reply.status == 401, (kind, reply.status, reply.json)
    assert reply.headers["Content-Type"] == "application/problem+json"
