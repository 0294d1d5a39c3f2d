"""The event contract (docs/events.md): golden examples, and the publishers matching them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.events import (
    PoisonMessage,
    change_event_types,
    event_types,
    parse_envelope,
)
from chalicelib.notes.schemas import NoteOut
from chalicelib.projects.schemas import ProjectOut
from chalicelib.tasks.schemas import TaskOut
from tests.events_support import Probe

GOLDEN = Path(__file__).parent / "golden" / "events"
DUMPED_FIELDS = {
    "project": {f.data_key or name for name, f in ProjectOut().fields.items()},
    "task": {f.data_key or name for name, f in TaskOut().fields.items()},
    "note": {f.data_key or name for name, f in NoteOut().fields.items()},
    # user-deleted is no table's change: it names the deletion job and when it was asked.
    "user": {"jobId", "requestedAt"},
}


def golden(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{event_type}.json").read_text())
    return data


def test_there_is_a_golden_example_of_every_event_type():
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(event_types())


@pytest.mark.parametrize("event_type", event_types())
def test_golden_examples_are_valid_envelopes(event_type):
    example = golden(event_type)
    envelope = parse_envelope(json.dumps(example))
    assert envelope.type == event_type
    assert envelope.to_json() == example  # nothing lost or reshaped in a round trip
    resource = event_type.split("-")[0]
    assert set(example["data"]) == DUMPED_FIELDS[resource]
    assert (
        example["eventId"]
        == f"{example['source']}:{example['subject']['id']}:v{example['subject']['version']}"
    )
    if event_type in change_event_types():  # data is the resource after the change
        assert example["data"]["version"] == example["subject"]["version"]


def test_readers_ignore_unknown_fields():
    example = golden("project-created")
    example["addedInAMinorVersion"] = {"anything": True}
    example["subject"]["tenant"] = "t-1"
    assert parse_envelope(json.dumps(example)).subject.version == 1


@pytest.mark.parametrize(
    "breakage",
    [
        lambda e: e.pop("eventId"),
        lambda e: e.pop("data"),
        lambda e: e.update(schemaVersion=2),
        lambda e: e.update(schemaVersion="1"),
        lambda e: e.update(type="project-archived"),
        lambda e: e.update(type="task-created"),  # not a projects event
        lambda e: e.update(occurredAt="yesterday"),
        lambda e: e.update(occurredAt="2026-11-22T10:00:00"),  # no timezone
        lambda e: e["subject"].update(version=0),
        lambda e: e["subject"].update(version="3"),
        lambda e: e["subject"].pop("userId"),
        lambda e: e.update(data=[1]),
    ],
)
def test_broken_envelopes_are_poison(breakage):
    example = copy.deepcopy(golden("project-created"))
    breakage(example)
    with pytest.raises(PoisonMessage):
        parse_envelope(json.dumps(example))


def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value kinds, not the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return "list"
    return type(value).__name__ if value is not None else "null-or-any"


def _same_shape(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(_same_shape(actual[k], expected[k]) for k in expected)
        )
    return bool(expected == "null-or-any" or actual == "null-or-any" or actual == expected)


def test_publishers_emit_what_the_golden_examples_show(api, alice, pump, aws, stack):
    probe = Probe.attach(aws, stack)
    project = api.post(
        "/projects", alice, {"name": "Home", "description": "d", "color": "#4F8A10"}
    ).json
    task = api.post(
        "/tasks",
        alice,
        {
            "title": "My Task",
            "projectId": project["projectId"],
            "targetDate": "2026-11-30",
            "priority": 2,
        },
    ).json
    note = api.post(
        "/notes",
        alice,
        {
            "title": "Plumber",
            "body": "b",
            "projectId": project["projectId"],
            "taskId": task["taskId"],
            "tags": ["home"],
        },
    ).json
    api.patch(f"/tasks/{task['taskId']}", alice, {"status": "Done", "isCompleted": True})
    api.patch(f"/notes/{note['noteId']}", alice, {"body": "c"})
    api.patch(f"/projects/{project['projectId']}", alice, {"name": "House"})
    api.delete(f"/notes/{note['noteId']}", alice)
    api.delete(f"/projects/{project['projectId']}", alice)  # cascades to the task
    pump.drain()
    published = {envelope["type"]: envelope for envelope, _ in probe.drain()}
    assert sorted(published) == sorted(change_event_types())
    for event_type, envelope in published.items():
        assert _same_shape(_shape(envelope), _shape(golden(event_type))), event_type
        parse_envelope(json.dumps(envelope))


def test_user_deleted_is_built_as_the_golden_example_shows():
    from datetime import UTC, datetime

    from chalicelib.accounts.events import user_deleted

    example = golden("user-deleted")
    built = user_deleted(
        example["subject"]["userId"],
        example["data"]["jobId"],
        datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
        example["correlationId"],
    )
    assert built.to_json() == example
