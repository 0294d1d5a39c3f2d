"""Concurrent clients over HTTP against `make run`'s stack (API.md v1.1): writes without
If-Match are last-writer-wins, each answering 2xx with its own version; a PATCH that
changes nothing is 200 without a new version."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.test_local_stack import (
    Account,
    RunningStack,
    call,
    sign_up_and_in,
    start_stack,
)

CALLERS = 10
CHANGE = {"projects": "description", "tasks": "notes", "notes": "body"}
ID = {"projects": "projectId", "tasks": "taskId", "notes": "noteId"}


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    stack: RunningStack = start_stack(tmp_path_factory.mktemp("tandem-concurrency"))
    try:
        yield stack.contract
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def carol(contract: dict[str, str]) -> Account:
    return sign_up_and_in(contract, "carol@example.com")


def created(contract: dict[str, str], user: Account, kind: str, body: dict[str, Any]) -> Any:
    reply = call(contract, "POST", f"/{kind}", user.id_token, body)
    assert reply.status == 201, reply.json
    return reply.json


@pytest.fixture(scope="module")
def items(contract: dict[str, str], carol: Account) -> dict[str, Any]:
    project = created(contract, carol, "projects", {"name": "Concurrent"})
    task = created(contract, carol, "tasks", {"title": "t", "projectId": project["projectId"]})
    note = created(contract, carol, "notes", {"title": "n"})
    return {"projects": project, "tasks": task, "notes": note}


@pytest.mark.parametrize("kind", ["projects", "tasks", "notes"])
def test_parallel_patches_without_if_match_all_answer_200_with_their_own_version(
    contract: dict[str, str], carol: Account, items: dict[str, Any], kind: str
):
    field, item = CHANGE[kind], items[kind]
    path = f"/{kind}/{item[ID[kind]]}"
    start = threading.Barrier(CALLERS)

    def patch(n: int) -> tuple[int, Any]:
        start.wait()
        reply = call(contract, "PATCH", path, carol.id_token, {field: f"caller {n}"})
        return reply.status, reply.json

    with ThreadPoolExecutor(CALLERS) as pool:
        replies = list(pool.map(patch, range(CALLERS)))

    assert [status for status, _ in replies] == [200] * CALLERS, replies
    assert all(body[field] == f"caller {n}" for n, (_, body) in enumerate(replies))
    versions = sorted(body["version"] for _, body in replies)
    assert versions == list(range(item["version"] + 1, item["version"] + 1 + CALLERS))
    final = call(contract, "GET", path, carol.id_token).json
    assert final["version"] == versions[-1]
    winner = next(body for _, body in replies if body["version"] == versions[-1])
    assert final[field] == winner[field]


def test_a_patch_that_changes_nothing_keeps_the_version(
    contract: dict[str, str], carol: Account, items: dict[str, Any]
):
    path = f"/notes/{items['notes']['noteId']}"
    before = call(contract, "GET", path, carol.id_token).json
    for body in ({}, {"title": before["title"]}):
        reply = call(contract, "PATCH", path, carol.id_token, body)
        assert (reply.status, reply.json) == (200, before)
