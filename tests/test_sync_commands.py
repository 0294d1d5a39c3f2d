"""POST /sync: offline commands through the REST routes' own service functions, with
replays (whole, suffix, after the ledger is lost) that change nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core import wiring
from chalicelib.sync.models import COMMAND_PREFIX, CommandRecord
from devstack.infra import Context
from tests.conftest import Api, User
from tests.problems import problem


def batch(*commands: dict[str, Any]) -> dict[str, Any]:
    return {"commands": list(commands)}


def create(cid: str, resource: str, temp: str, **fields: Any) -> dict[str, Any]:
    return {
        "commandId": cid,
        "type": "create",
        "resource": resource,
        "tempId": temp,
        "fields": fields,
    }


def update(cid: str, resource: str, *, base: int | None = None, **named: Any) -> dict[str, Any]:
    fields = named.pop("fields")
    command = {"commandId": cid, "type": "update", "resource": resource, "fields": fields, **named}
    if base is not None:
        command["baseVersion"] = base
    return command


def delete(cid: str, resource: str, *, base: int | None = None, **named: Any) -> dict[str, Any]:
    command = {"commandId": cid, "type": "delete", "resource": resource, **named}
    if base is not None:
        command["baseVersion"] = base
    return command


def post(api: Api, user: User, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post("/sync", user, body)
    assert reply.status == 200, reply.json
    answer: dict[str, Any] = reply.json
    return answer


def state(api: Api, user: User) -> dict[str, Any]:
    return {
        name: sorted(
            api.get(f"/{name}?limit=200", user).json["items"], key=lambda o: o[f"{name[:-1]}Id"]
        )
        for name in ("projects", "tasks", "notes")
    }


OFFLINE = batch(
    create("c1", "project", "p1", name="Trip"),
    create("c2", "task", "t1", title="Pack", projectId="p1"),
    create("c3", "note", "n1", title="List", projectId="p1", taskId="t1"),
    update("c4", "task", tempId="t1", fields={"status": "Done"}),
    update("c5", "project", tempId="p1", fields={"name": "Trip!"}),
    delete("c6", "note", tempId="n1"),
)


def test_objects_created_offline_reference_each_other(api: Api, alice: User) -> None:
    answer = post(api, alice, OFFLINE)
    assert [r["status"] for r in answer["results"]] == ["ok"] * 6
    ids = answer["idMap"]
    assert set(ids) == {"p1", "t1", "n1"}
    task = api.get(f"/tasks/{ids['t1']}", alice).json
    assert task["projectId"] == ids["p1"]
    assert task["status"] == "Done"
    assert answer["results"][3]["object"] == task
    assert api.get(f"/projects/{ids['p1']}", alice).json["name"] == "Trip!"
    assert api.get(f"/notes/{ids['n1']}", alice).status == 404
    assert "object" not in answer["results"][5]


def test_a_replayed_batch_or_suffix_changes_nothing_and_answers_the_same(
    api: Api, alice: User
) -> None:
    first = post(api, alice, OFFLINE)
    after = state(api, alice)
    again = post(api, alice, OFFLINE)
    assert again == first
    assert state(api, alice) == after
    suffix = batch(*OFFLINE["commands"][3:])
    answer = post(api, alice, suffix)
    assert answer["results"] == first["results"][3:]
    assert state(api, alice) == after


def test_replays_change_nothing_even_when_the_ledger_is_gone(
    api: Api, alice: User, stack: Context
) -> None:
    """The command records are kept as long as the account, but the guarantee does not
    rest on them alone: a create's id is derived from its command, and an update's stamp
    is on the object. Here every record is deleted before the replay."""
    first = post(api, alice, OFFLINE)
    after = state(api, alice)
    for record in CommandRecord.query(
        alice.sub, CommandRecord.entry_key.startswith(COMMAND_PREFIX)
    ):
        record.delete()
    again = post(api, alice, OFFLINE)
    assert [r["status"] for r in again["results"]] == ["ok"] * 6
    assert again["idMap"] == first["idMap"]
    assert state(api, alice) == after


def test_a_stale_base_version_is_a_conflict_with_the_current_object(
    api: Api, alice: User, project_of: Any
) -> None:
    project = project_of(alice)
    api.patch(f"/projects/{project['projectId']}", alice, {"name": "server"})
    answer = post(
        api,
        alice,
        batch(
            update("u1", "project", id=project["projectId"], base=1, fields={"name": "offline"}),
            delete("d1", "project", id=project["projectId"], base=1),
        ),
    )
    conflict, conflict_delete = answer["results"]
    assert conflict["status"] == "conflict"
    assert conflict["object"]["name"] == "server"
    assert conflict_delete["status"] == "conflict"
    assert api.get(f"/projects/{project['projectId']}", alice).json["version"] == 2
    # With the current version it applies; deleting what is deleted is ok.
    ok = post(
        api,
        alice,
        batch(
            delete("d2", "project", id=project["projectId"], base=2),
            delete("d3", "project", id=project["projectId"]),
        ),
    )
    assert [r["status"] for r in ok["results"]] == ["ok", "ok"]


def test_the_rest_rules_apply_per_command(
    api: Api, alice: User, bob: User, project_of: Any
) -> None:
    bobs = project_of(bob)
    answer = post(
        api,
        alice,
        batch(
            create("a", "task", "t1", title="in bob's project", projectId=bobs["projectId"]),
            create("b", "project", "p1", name=""),
            create("c", "project", "p2", name="ok", userId="x"),
            update("d", "project", id=bobs["projectId"], fields={"name": "mine now"}),
            create("e", "task", "t2", title="needs t1's project", projectId="p1"),
            update("f", "task", tempId="t1", fields={"title": "x"}),
            create("g", "project", "p3", name="fine"),
        ),
    )
    statuses = [(r["status"], r.get("problem", {}).get("status")) for r in answer["results"]]
    assert statuses == [
        ("error", 422),
        ("error", 400),
        ("error", 400),
        ("error", 404),
        ("error", 422),
        ("error", 422),
        ("ok", None),
    ]
    assert set(answer["idMap"]) == {"p3"}
    assert api.get(f"/projects/{bobs['projectId']}", bob).json["name"] == bobs["name"]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"commands": "no"},
        {"commands": [], "extra": 1},
        {"commands": [{"commandId": "x", "type": "move", "resource": "task", "id": "1"}]},
        {
            "commands": [
                create("same", "project", "p", name="a"),
                create("same", "project", "q", name="b"),
            ]
        },
        {"commands": [create(f"c{i}", "project", f"p{i}", name="n") for i in range(101)]},
    ],
)
def test_a_body_that_is_not_a_batch_is_400_and_applies_nothing(
    api: Api, alice: User, body: Any
) -> None:
    reply = api.post("/sync", alice, body)
    problem(reply, 400)
    assert api.get("/projects", alice).json["items"] == []


def test_a_hundred_commands_are_one_batch(api: Api, alice: User) -> None:
    answer = post(
        api, alice, batch(*(create(f"c{i}", "project", f"p{i}", name=f"n{i}") for i in range(100)))
    )
    assert len(answer["idMap"]) == 100


def test_a_reused_command_id_with_another_command_is_an_error(api: Api, alice: User) -> None:
    post(api, alice, batch(create("c1", "project", "p1", name="a")))
    answer = post(api, alice, batch(create("c1", "project", "p1", name="different")))
    [result] = answer["results"]
    assert result["status"] == "error"
    assert result["problem"]["status"] == 409
    assert [p["name"] for p in api.get("/projects", alice).json["items"]] == ["a"]


def test_a_batch_cut_off_midway_is_completed_by_its_replay(api: Api, alice: User) -> None:
    """The first try runs out of its time budget after three commands (a clock that
    advances 6 s per reading: the rest answer a retryable 503 and are not recorded);
    the replay applies the rest, once."""
    ticks = iter(range(0, 10_000, 6))
    wiring.override("sync.clock", lambda: float(next(ticks)))
    first = post(api, alice, OFFLINE)
    wiring.override("sync.clock", None)
    statuses = [r["status"] for r in first["results"]]
    assert statuses[:3] == ["ok"] * 3
    assert statuses[3:] == ["error"] * 3
    assert {r["problem"]["status"] for r in first["results"][3:]} == {503}
    replay = post(api, alice, OFFLINE)
    assert [r["status"] for r in replay["results"]] == ["ok"] * 6
    assert replay["idMap"] == first["idMap"]
    assert [t["status"] for t in api.get("/tasks", alice).json["items"]] == ["Done"]
