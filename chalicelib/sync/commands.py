"""POST /sync: a batch of offline commands, applied in order through the same service
functions as the REST routes (their schemas, ownership and 422 rules, not a copy).

Exactly once, without depending on anything that expires:
- every command is claimed in the user's command ledger (`cmd#<commandId>`) before it is
  applied and its outcome recorded after; a replay answers from the ledger and applies
  nothing. Ledger records are kept as long as the account (docs/sync.md, POST /sync);
- a create's id is derived from (user, resource, commandId), so even a create whose
  outcome was never recorded (the function died between the two writes) finds its object
  on replay instead of making a second one;
- an update or delete stamps `<request id>#<commandId>` as the object's request id, so an
  unrecorded update is recognised on replay while it is still the object's last write.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError
from ulid import ULID

from chalicelib.core.conditional import EntityTags
from chalicelib.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    UnprocessableReference,
)
from chalicelib.core.http import problem_body
from chalicelib.core.models import condition_failed, utcnow
from chalicelib.core.pagination import MAX_PAGE_WEIGHT, answer_weight
from chalicelib.core.schema import DumpSchema, LoadSchema, load
from chalicelib.core.wiring import Dependency
from chalicelib.notes import service as notes
from chalicelib.notes.schemas import NoteIn, NoteOut
from chalicelib.projects import service as projects
from chalicelib.projects.schemas import ProjectIn, ProjectOut
from chalicelib.tasks import service as tasks
from chalicelib.tasks.schemas import TaskIn, TaskOut

from .models import CommandAnswer, CommandRecord, answer_key, command_key

MAX_COMMANDS = 100
# The API function has 29 s; commands not started by then answer a retryable 503.
TIME_BUDGET_SECONDS = 20.0
# A claim whose request died is taken over after this (longer than the API's timeout).
CLAIM_SECONDS = 60
PENDING = "pending"
ANSWER_TTL = timedelta(hours=24)
# The clock the time budget is measured on; tests give it one that runs fast.
monotonic_clock = Dependency("sync.clock", lambda: time.monotonic)
OK, CONFLICT, ERROR = "ok", "conflict", "error"


@dataclass(frozen=True)
class Kind:
    """One resource as POST /sync drives it: the REST routes' schemas and functions."""

    load: type[LoadSchema]
    dump: type[DumpSchema]
    create: Callable[..., Any]
    update: Callable[[str, str, Mapping[str, Any], EntityTags | None, str], Any]
    delete: Callable[[str, str, EntityTags | None, str], Any]
    fetch: Callable[[str, Collection[str]], Sequence[Any]]
    id_field: str
    references: tuple[str, ...]  # fields (as sent) that may name a tempId


KINDS: dict[str, Kind] = {
    "project": Kind(
        ProjectIn,
        ProjectOut,
        projects.create_project,
        projects.update_project,
        projects.delete_project,
        projects.get_projects_by_ids,
        "project_id",
        (),
    ),
    "task": Kind(
        TaskIn,
        TaskOut,
        tasks.create_task,
        tasks.update_task,
        tasks.delete_task,
        tasks.get_tasks_by_ids,
        "task_id",
        ("projectId",),
    ),
    "note": Kind(
        NoteIn,
        NoteOut,
        notes.create_note,
        notes.update_note,
        notes.delete_note,
        notes.get_notes_by_ids,
        "note_id",
        ("projectId", "taskId"),
    ),
}


@dataclass
class Result:
    command_id: str
    status: str
    object: Any = None  # the stored item; dumped by the route
    resource: str | None = None
    problem: dict[str, Any] | None = None
    object_id: str | None = None  # of the object it made or named
    omitted: bool = False  # the object was left out for the answer's size


@dataclass
class BatchResult:
    results: list[Result] = field(default_factory=list)
    id_map: dict[str, str] = field(default_factory=dict)


def fingerprint(command: Mapping[str, Any]) -> str:
    canonical = json.dumps(command, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def derived_id(user_id: str, resource: str, command_id: str) -> str:
    """The id a create command makes: the same for every replay of it, and a ULID like
    every id (its time part is not the creation time)."""
    digest = hashlib.sha256(f"sync\x00{user_id}\x00{resource}\x00{command_id}".encode())
    return str(ULID.from_bytes(digest.digest()[:16]))


class _Failed(DomainError):
    """Internal: the outcome is a per-command problem (never reaches HTTP as such)."""


def _stamp(request_id: str, command_id: str) -> str:
    return f"{request_id}#{command_id}"


def apply_batch(
    user_id: str,
    commands: Sequence[Mapping[str, Any]],
    raw: Sequence[Mapping[str, Any]],
    request_id: str,
) -> BatchResult:
    """Applies `commands` (loaded by BatchIn; `raw` as sent, for fingerprints) in order."""
    clock = monotonic_clock()
    deadline = clock() + TIME_BUDGET_SECONDS
    ledger = {
        record.entry_key: record
        for record in CommandRecord.batch_get(
            [(user_id, command_key(c["command_id"])) for c in commands], consistent_read=True
        )
    }
    answers = _answers(user_id, [r for r in ledger.values() if r.status in (OK, CONFLICT)])
    batch = BatchResult()
    failed_temp_ids: set[str] = set()
    replayed: list[Result] = []
    for command, sent in zip(commands, raw, strict=True):
        command_id, temp_id = command["command_id"], command.get("temp_id")
        record = ledger.get(command_key(command_id))
        print_ = fingerprint(sent)
        if record is not None and record.status != PENDING:
            result = _from_record(record, print_)
            answer = answers.get(answer_key(result.command_id))
            if answer is not None and result.problem is None:
                result.object = json.loads(answer.object)
            else:
                replayed.append(result)
        elif clock() > deadline:
            result = _problem_result(
                command_id,
                ServiceUnavailable("The batch ran out of time; send it again.", 1),
            )
        else:
            result = _run(user_id, command, print_, request_id, batch.id_map, failed_temp_ids)
        if command["type"] == "create" and temp_id is not None:
            if result.status == OK and result.object_id is not None:
                batch.id_map[temp_id] = result.object_id
            else:
                failed_temp_ids.add(temp_id)
        batch.results.append(result)
    _refresh(user_id, replayed)
    _bound_weight(batch.results)
    return batch


def _answers(user_id: str, records: list[CommandRecord]) -> dict[str, CommandAnswer]:
    if not records:
        return {}
    now = utcnow()
    keys = [(user_id, answer_key(r.entry_key.removeprefix("cmd#"))) for r in records]
    return {
        answer.entry_key: answer
        for answer in CommandAnswer.batch_get(keys, consistent_read=True)
        if answer.expires_at is not None and answer.expires_at > now  # TTL is lazy
    }


def _from_record(record: CommandRecord, print_: str) -> Result:
    command_id = record.entry_key.removeprefix("cmd#")
    if record.fingerprint != print_:
        return _problem_result(
            command_id,
            Conflict("This commandId was used for a different command."),
        )
    problem = json.loads(record.problem) if record.problem else None
    return Result(
        command_id,
        record.status,
        resource=record.resource,
        problem=problem,
        object_id=record.object_id,
    )


def _refresh(user_id: str, replayed: list[Result]) -> None:
    """Replayed results carry the object as it is now (one BatchGetItem per resource);
    an object deleted since is left out, as is a deleted object's."""
    wanted: dict[str, list[Result]] = {}
    for result in replayed:
        if result.status in (OK, CONFLICT) and result.object_id and result.resource:
            wanted.setdefault(result.resource, []).append(result)
    for resource, results in wanted.items():
        kind = KINDS[resource]
        found = {
            getattr(item, kind.id_field): item
            for item in kind.fetch(user_id, [r.object_id for r in results if r.object_id])
            if item.deleted_at is None
        }
        for result in results:
            result.object = found.get(result.object_id or "")


def _bound_weight(results: list[Result]) -> None:
    """Lambda answers at most 6 MB: past the page weight, results leave out their object
    (the client has it from its next sync; `objectOmitted` says so)."""
    weight = 0
    for result in results:
        if result.object is not None:
            if isinstance(result.object, dict):  # dumped: 4 bytes per byte, as answer_weight
                weight += 4 * len(json.dumps(result.object, ensure_ascii=False).encode())
            else:
                weight += answer_weight(result.object)
            if weight > MAX_PAGE_WEIGHT:
                result.object, result.omitted = None, True


def _problem_result(command_id: str, error: DomainError) -> Result:
    return Result(command_id, ERROR, problem=problem_body(error))


def _run(
    user_id: str,
    command: Mapping[str, Any],
    print_: str,
    request_id: str,
    id_map: Mapping[str, str],
    failed_temp_ids: set[str],
) -> Result:
    command_id, resource = command["command_id"], command["resource"]
    claim = _claim(user_id, command, print_)
    if claim is not None:
        return claim
    try:
        status, item, object_id = _apply(user_id, command, request_id, id_map, failed_temp_ids)
        result = Result(command_id, status, item, resource, object_id=object_id)
    except ServiceUnavailable as busy:
        _release(user_id, command_id)
        return _problem_result(command_id, busy)  # transient: not recorded, send again
    except DomainError as error:
        result = Result(command_id, ERROR, resource=resource, problem=problem_body(error))
    except BaseException:
        _release(user_id, command_id)
        raise
    _record(user_id, command, print_, result)
    return result


def _claim(user_id: str, command: Mapping[str, Any], print_: str) -> Result | None:
    """Takes the command for this request; a Result when someone else has it."""
    now = utcnow()
    record = CommandRecord(
        user_id,
        command_key(command["command_id"]),
        fingerprint=print_,
        status=PENDING,
        resource=command["resource"],
        temp_id=command.get("temp_id"),
        applied_at=now,
    )
    free = CommandRecord.entry_key.does_not_exist() | (
        (CommandRecord.status == PENDING)
        & (CommandRecord.applied_at < now - timedelta(seconds=CLAIM_SECONDS))
    )
    try:
        record.save(condition=free)
    except PutError as error:
        if not condition_failed(error):
            raise
        return _problem_result(
            command["command_id"],
            Conflict("This command is being applied by another request; send it again."),
        )
    return None


def _release(user_id: str, command_id: str) -> None:
    """Frees the claim at once (its time set to the epoch), so a resend may take it."""
    released = CommandRecord(
        user_id,
        command_key(command_id),
        fingerprint="",
        status=PENDING,
        resource="",
        applied_at=datetime.fromtimestamp(0, UTC),
    )
    try:
        released.save(condition=CommandRecord.status == PENDING)
    except PutError as error:
        if not condition_failed(error):
            raise


def _record(user_id: str, command: Mapping[str, Any], print_: str, result: Result) -> None:
    item = result.object
    CommandRecord(
        user_id,
        command_key(command["command_id"]),
        fingerprint=print_,
        status=result.status,
        resource=command["resource"],
        object_id=result.object_id,
        temp_id=command.get("temp_id"),
        version=getattr(item, "version", None) if item is not None else None,
        problem=json.dumps(result.problem) if result.problem else None,
        applied_at=utcnow(),
    ).save()
    if item is not None:
        dumped = KINDS[command["resource"]].dump().dump(item)
        CommandAnswer(
            user_id,
            answer_key(command["command_id"]),
            object=json.dumps(dumped, ensure_ascii=False, separators=(",", ":")),
            expires_at=utcnow() + ANSWER_TTL,
        ).save()


def _resolve(
    value: str, id_map: Mapping[str, str], failed_temp_ids: set[str], field_name: str
) -> str:
    if value in id_map:
        return id_map[value]
    if value in failed_temp_ids:
        raise UnprocessableReference(
            field_name, "It names the tempId of a create in this batch that failed."
        )
    return value


def _apply(
    user_id: str,
    command: Mapping[str, Any],
    request_id: str,
    id_map: Mapping[str, str],
    failed_temp_ids: set[str],
) -> tuple[str, Any, str | None]:
    """(status, the resulting item or None, the object's id)."""
    kind = KINDS[command["resource"]]
    command_id = command["command_id"]
    stamp = _stamp(request_id, command_id)
    fields = dict(command.get("fields") or {})
    for name in kind.references:
        if isinstance(fields.get(name), str):
            fields[name] = _resolve(fields[name], id_map, failed_temp_ids, name)
    if command["type"] == "create":
        object_id = derived_id(user_id, command["resource"], command_id)
        loaded = load(kind.load(), fields)
        existing = _current(kind, user_id, object_id, live_only=False)
        if existing is not None:  # created before its outcome was recorded
            return OK, existing if existing.deleted_at is None else None, object_id
        return OK, kind.create(user_id, loaded, stamp, object_id=object_id), object_id

    target = command.get("id")
    if target is None:
        temp_id = command["temp_id"]
        if temp_id not in id_map:
            raise UnprocessableReference(
                "tempId",
                "No create earlier in this batch has this tempId"
                + (", or it failed." if temp_id in failed_temp_ids else "."),
            )
        target = id_map[temp_id]
    base = command.get("base_version")
    if_match = None if base is None else EntityTags(any=False, versions=frozenset({base}))
    current = _current(kind, user_id, target, live_only=False)
    if current is not None and (current.request_id or "").endswith(f"#{command_id}"):
        # Its last write is this command's, applied before its outcome was recorded.
        return OK, current if current.deleted_at is None else None, target
    try:
        if command["type"] == "update":
            loaded = load(kind.load(), fields, partial=True)
            return OK, kind.update(user_id, target, loaded, if_match, stamp), target
        kind.delete(user_id, target, if_match, stamp)
        return OK, None, target
    except PreconditionFailed:
        now = _current(kind, user_id, target, live_only=True)
        if now is None:
            raise NotFound("No such object.") from None
        return CONFLICT, now, target
    except NotFound:
        if command["type"] == "delete" and current is not None and current.deleted_at:
            return OK, None, target  # deleting what is already deleted is ok
        raise


def _current(kind: Kind, user_id: str, object_id: str, *, live_only: bool) -> Any:
    found = kind.fetch(user_id, [object_id])
    item = found[0] if found else None
    if item is not None and live_only and item.deleted_at is not None:
        return None
    return item
