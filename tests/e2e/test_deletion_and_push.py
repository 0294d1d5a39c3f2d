"""End to end over HTTP against `python -m devstack` on free ports: deletion is immediate
for concurrent clients, nothing acknowledged is undone, and project changes are pushed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_local_stack import (
    PUMP_TIMEOUT,
    Account,
    RunningStack,
    call,
    create_project,
    pushes_until,
    sign_up_and_in,
    start_stack,
    websocket,
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("tandem-deletion"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def contract(running: RunningStack) -> dict[str, str]:
    return running.contract


@pytest.fixture(scope="module")
def carol(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "carol@example.com")


def test_project_changes_are_pushed(contract: dict[str, str], carol: Account) -> None:
    with websocket(contract, carol.id_token) as socket:
        project = create_project(contract, carol, "Pushed")
        pid = project["projectId"]

        def push_of(version: int) -> Any:
            return lambda m: m.get("id") == pid and m.get("version") == version

        assert pushes_until(socket, push_of(1), PUMP_TIMEOUT)[-1] == {
            "type": "changed",
            "resource": "project",
            "id": pid,
            "version": 1,
        }
        path = f"/projects/{pid}"
        assert call(contract, "PATCH", path, carol.id_token, {"name": "Renamed"}).status == 200
        assert pushes_until(socket, push_of(2), PUMP_TIMEOUT)[-1]["type"] == "changed"
        assert call(contract, "DELETE", path, carol.id_token).status == 204
        assert pushes_until(socket, push_of(3), PUMP_TIMEOUT)[-1] == {
            "type": "deleted",
            "resource": "project",
            "id": pid,
            "version": 3,
        }


def wait_until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + PUMP_TIMEOUT
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen in {PUMP_TIMEOUT} s"
        time.sleep(0.2)
