"""A simulated mobile client converges: writers race on the server while it is offline,
then it replays its commands (twice: the first answer is lost) and syncs until its
replica equals the server's state, compared object by object."""

from __future__ import annotations

import random
import threading
from typing import Any

from chalicelib.core.errors import DomainError
from chalicelib.core.schema import load
from chalicelib.notes import service as notes
from chalicelib.notes.schemas import NoteIn
from chalicelib.projects import service as projects
from chalicelib.projects.schemas import ProjectIn
from chalicelib.tasks import service as tasks
from chalicelib.tasks.schemas import TaskIn
from tests.conftest import Api, User

KEYS = {"projects": "projectId", "tasks": "taskId", "notes": "noteId"}
TYPES = {"project": "projects", "task": "tasks", "note": "notes"}


class Replica:
    """What the app keeps: objects by kind and id, and its cursor."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KEYS}
        self.cursor: str | None = None

    def put(self, kind: str, obj: dict[str, Any]) -> None:
        known = self.objects[kind].get(obj[KEYS[kind]])
        if known is None or known["version"] <= obj["version"]:
            self.objects[kind][obj[KEYS[kind]]] = obj

    def sync(self, api: Api, user: User) -> int:
        """GET /sync until hasMore is false; the number of calls."""
        calls = 0
        while True:
            path = "/sync" if self.cursor is None else f"/sync?cursor={self.cursor}"
            reply = api.get(path, user)
            assert reply.status == 200, reply.json
            page = reply.json
            calls += 1
            for kind in KEYS:
                for obj in page[kind]:
                    self.put(kind, obj)
            for tombstone in page["deleted"]:
                self.objects[TYPES[tombstone["type"]]].pop(tombstone["id"], None)
            self.cursor = page["cursor"]
            if not page["hasMore"]:
                return calls


def server_state(api: Api, user: User) -> dict[str, dict[str, dict[str, Any]]]:
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, key in KEYS.items():
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            reply = api.get(f"/{kind}?limit=200" + (f"&cursor={cursor}" if cursor else ""), user)
            items += reply.json["items"]
            cursor = reply.json["nextCursor"]
            if cursor is None:
                break
        state[kind] = {item[key]: item for item in items}
    return state


def writer(user_id: str, seed: int, project_ids: list[str], errors: list[BaseException]) -> None:
    """Another device of the same user: creates, edits (last writer wins) and deletes,
    racing the others on the same objects."""
    rng = random.Random(seed)
    mine: list[str] = []
    try:
        for step in range(12):
            choice = rng.random()
            try:
                if choice < 0.3 or not mine:
                    fields = {"title": f"w{seed}-{step}", "projectId": rng.choice(project_ids)}
                    task = tasks.create_task(user_id, load(TaskIn(), fields), f"w{seed}")
                    mine.append(task.task_id)
                elif choice < 0.7:
                    tasks.update_task(
                        user_id, rng.choice(mine), {"title": f"w{seed}-e{step}"}, None, f"w{seed}"
                    )
                elif choice < 0.85:
                    fields = {"title": f"n{seed}-{step}", "taskId": rng.choice(mine)}
                    notes.create_note(user_id, load(NoteIn(), fields), "w")
                else:
                    tasks.delete_task(user_id, mine.pop(rng.randrange(len(mine))), None, "w")
            except DomainError:
                pass  # a 404/422 that a racing writer caused: what a device would see
    except BaseException as error:
        errors.append(error)


def test_an_offline_client_converges_with_racing_writers(api: Api, pump: Any, alice: User) -> None:
    home = projects.create_project(alice.sub, load(ProjectIn(), {"name": "Home"}), "seed")
    doomed = projects.create_project(alice.sub, load(ProjectIn(), {"name": "Doomed"}), "seed")
    shared = tasks.create_task(
        alice.sub, load(TaskIn(), {"title": "shared", "projectId": home.project_id}), "s"
    )
    pump.drain()
    phone = Replica()
    phone.sync(api, alice)
    assert set(phone.objects["tasks"]) == {shared.task_id}

    # The phone goes offline and works; meanwhile four other devices race, the log's
    # consumer runs in between, and the project "Doomed" is deleted (its cascade).
    offline: dict[str, Any] = {
        "commands": [
            {
                "commandId": "o1",
                "type": "create",
                "resource": "project",
                "tempId": "p",
                "fields": {"name": "Offline"},
            },
            {
                "commandId": "o2",
                "type": "create",
                "resource": "task",
                "tempId": "t",
                "fields": {"title": "offline task", "projectId": "p"},
            },
            {
                "commandId": "o3",
                "type": "create",
                "resource": "note",
                "tempId": "n",
                "fields": {"title": "offline note", "taskId": "t"},
            },
            # Written on version 1, which a racing writer may have changed: ok or conflict.
            {
                "commandId": "o4",
                "type": "update",
                "resource": "task",
                "id": shared.task_id,
                "baseVersion": 1,
                "fields": {"title": "phone's edit"},
            },
            {
                "commandId": "o5",
                "type": "create",
                "resource": "task",
                "tempId": "d",
                "fields": {"title": "into a deleted project", "projectId": doomed.project_id},
            },
            {
                "commandId": "o6",
                "type": "update",
                "resource": "task",
                "tempId": "t",
                "fields": {"status": "Done"},
            },
        ]
    }
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=writer, args=(alice.sub, seed, [home.project_id, doomed.project_id], errors)
        )
        for seed in range(4)
    ]
    for thread in threads:
        thread.start()
    tasks.update_task(alice.sub, shared.task_id, {"title": "server's edit"}, None, "race")
    for _ in range(3):
        pump.run_once()
    projects.delete_project(alice.sub, doomed.project_id, None, "race")
    for thread in threads:
        thread.join()
    assert not errors

    # Back online: the first answer is lost (the connection dropped), so it sends again.
    lost = api.post("/sync", alice, offline).json
    answer = api.post("/sync", alice, offline).json
    assert answer == lost
    statuses = [result["status"] for result in answer["results"]]
    assert statuses == ["ok", "ok", "ok", "conflict", "error", "ok"]
    assert answer["results"][3]["object"]["title"] == "server's edit"
    assert answer["results"][4]["problem"]["status"] == 422
    for command, result in zip(offline["commands"], answer["results"], strict=True):
        if result["status"] == "ok" and "object" in result:
            phone.put(TYPES[command["resource"]], result["object"])

    pump.drain()  # every event reaches the log (and the cascades run)
    phone.sync(api, alice)
    server = server_state(api, alice)
    for kind in KEYS:
        assert sorted(phone.objects[kind]) == sorted(server[kind]), kind
        for object_id, obj in server[kind].items():
            assert phone.objects[kind][object_id] == obj, (kind, object_id)
    assert server["projects"]
    assert server["tasks"]
    assert doomed.project_id not in server["projects"]
