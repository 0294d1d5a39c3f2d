"""The gatekeeper: the only code with access to the profile table, reached only through
its own Lambda function (synchronous invoke). Every call is appended to the audit trail:
a write commits in one transaction with its audit record, anything else appends its
record before it answers, so nothing is served unaudited.

The invocation's event (what the router and the jobs' workers send):
    {"action": "read" | "write" | "delete" | "export", "userId": str, "actor": str,
     "correlationId": str, "ifMatch": str | null, "profile": {...} | null}
Its answer:
    {"ok": true, "profile": {...} | null}                        (delete: profile null)
    {"ok": false, "problem": <problem slug>, "detail": str, "errors"?: {...}}
Neither the logs nor the audit records hold the profile's contents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.core.conditional import parse_entity_tags
from chalicelib.core.errors import BadRequest, DomainError
from chalicelib.core.ids import new_id
from chalicelib.core.log import bind_correlation_id, logger
from chalicelib.core.models import cancellation_codes, condition_failed, transact_write, utcnow
from chalicelib.core.problems import problem_of
from chalicelib.core.schema import load
from chalicelib.core.writes import VersionConflict, write_with_retry

from .models import AuditRecord, Profile
from .schemas import DEFAULT_LOCALE, DEFAULT_TIME_ZONE, ProfileIn, ProfileOut

ACTIONS = frozenset({"read", "write", "delete", "export"})
OK = "ok"


def _audit_record(
    event: Mapping[str, Any], action: str, outcome: str, fields: list[str] | None = None
) -> AuditRecord:
    return AuditRecord(
        str(event["userId"]),
        new_id(),
        actor=str(event.get("actor") or event["userId"]),
        action=action,
        outcome=outcome,
        correlation_id=str(event.get("correlationId") or "-"),
        at=utcnow(),
        fields=fields,
    )


def _append(record: AuditRecord) -> None:
    # A ULID key never repeats; the condition makes the put an append, never a replace.
    record.save(condition=AuditRecord.audit_id.does_not_exist())


def _read_or_create(user_id: str, correlation_id: str) -> Profile:
    """The profile; a first read creates it with the defaults (version 1)."""
    try:
        return Profile.get(user_id, consistent_read=True)
    except DoesNotExist:
        pass
    now = utcnow()
    profile = Profile(
        user_id,
        time_zone=DEFAULT_TIME_ZONE,
        locale=DEFAULT_LOCALE,
        preferences={},
        created_at=now,
        updated_at=now,
        request_id=correlation_id,
    )
    try:
        profile.save()  # the version attribute makes this a conditional create
    except PutError as error:
        if not condition_failed(error):
            raise
        return Profile.get(user_id, consistent_read=True)  # a concurrent first read won
    return profile


def _write(event: Mapping[str, Any]) -> tuple[Profile, list[str]]:
    fields = load(ProfileIn(), event.get("profile"))
    user_id = str(event["userId"])
    correlation_id = str(event.get("correlationId") or "-")
    if_match = parse_entity_tags(event.get("ifMatch"), weak_matches=False)
    changed: list[str] = []

    def apply(profile: Profile) -> None:
        changed.clear()
        for name, value in fields.items():
            if getattr(profile, name) != value:
                changed.append(ProfileIn().fields[name].data_key or name)
            setattr(profile, name, value)

    def persist(profile: Profile) -> None:
        profile.updated_at = utcnow()
        profile.request_id = correlation_id
        record = _audit_record(event, "write", OK, sorted(changed))

        def writes(transaction: TransactWrite) -> None:
            transaction.save(profile)
            transaction.save(record, condition=AuditRecord.audit_id.does_not_exist())

        try:
            transact_write(writes)
        except TransactWriteError as error:
            if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
                raise VersionConflict from error
            raise

    profile = write_with_retry(
        lambda: _read_or_create(user_id, correlation_id), apply, persist, if_match
    )
    return profile, changed


def _delete(user_id: str) -> None:
    # Unconditional: deleting what is gone already is fine.
    Profile(user_id).delete(add_version_condition=False)


def handle(event: Mapping[str, Any]) -> dict[str, Any]:
    action = event.get("action") if isinstance(event, Mapping) else None
    user_id = event.get("userId") if isinstance(event, Mapping) else None
    if action not in ACTIONS or not isinstance(user_id, str) or not user_id:
        # Nobody to audit against: a caller's bug, refused without touching any data.
        logger().error("gatekeeper refused a malformed call", extra={"action": str(action)[:32]})
        return {"ok": False, "problem": problem_of(BadRequest).slug, "detail": "Bad call."}
    correlation_id = str(event.get("correlationId") or "-")
    bind_correlation_id(correlation_id)
    log_fields = {"action": action, "userId": user_id, "actor": event.get("actor")}
    try:
        if action == "write":
            profile, changed = _write(event)
            # Audited in the write's own transaction (or not written at all: no change).
            if not changed:
                _append(_audit_record(event, "write", OK, []))
            answer: dict[str, Any] = {"ok": True, "profile": ProfileOut().dump(profile)}
        elif action == "delete":
            _delete(user_id)
            _append(_audit_record(event, "delete", OK))
            answer = {"ok": True, "profile": None}
        else:
            profile = _read_or_create(user_id, correlation_id)
            _append(_audit_record(event, action, OK))
            answer = {"ok": True, "profile": ProfileOut().dump(profile)}
    except DomainError as error:
        problem = problem_of(error)
        _append(_audit_record(event, action, problem.slug))
        logger().info("gatekeeper refused", extra={**log_fields, "outcome": problem.slug})
        body: dict[str, Any] = {"ok": False, "problem": problem.slug, "detail": error.detail}
        if error.errors:
            body["errors"] = error.errors
        if error.headers:
            body["headers"] = error.headers
        return body
    except Exception:
        try:
            _append(_audit_record(event, action, "error"))
        finally:
            logger().exception("gatekeeper failed", extra=log_fields)
        raise
    logger().info("gatekeeper", extra={**log_fields, "outcome": OK})
    return answer
