"""schemathesis hooks (SCHEMATHESIS_HOOKS=tests.e2e.schemathesis_hooks): what JSON Schema
cannot state, applied to the requests schemathesis generates as valid (positive mode),
so that none of them is taken for valid when the API rightly refuses it. Requests
generated as invalid (negative mode) are sent as they are."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

import schemathesis
from schemathesis.generation import GenerationMode


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if not _positive(case):
        return
    # A list's cursor is opaque and validated: only the API's own are valid, and a
    # made-up one is a 400 by design (tests/test_conventions.py covers bad cursors).
    if case.method.upper() == "GET" and isinstance(case.query, dict):
        case.query.pop("cursor", None)
    body = case.body
    if not isinstance(body, dict):
        return
    if case.path == "/sync" and isinstance(body.get("commands"), list):
        for index, command in enumerate(body["commands"]):
            if isinstance(command, dict):
                _sync_command_in_order(command, index)
        return
    if case.path == "/me":
        # A time zone of the right form must also be in the IANA database.
        if body.get("timeZone") not in _time_zones():
            body["timeZone"] = "Europe/Berlin"
        return
    if not case.path.startswith("/tasks"):
        return
    if case.method.upper() == "PATCH":
        # A PATCH's dates are checked against the stored task's (startDate <= targetDate),
        # which a generated body cannot know.
        body.pop("startDate", None)
        body.pop("targetDate", None)
    start, target = body.get("startDate"), body.get("targetDate")
    if isinstance(start, str) and isinstance(target, str) and start > target:
        body["startDate"], body["targetDate"] = target, start


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _sync_command_in_order(command: dict[str, Any], index: int) -> None:
    """POST /sync's rules across a command's fields: commandIds and tempIds are unique in
    a batch; a create has a tempId and fields and no id or baseVersion; an update has
    fields; update and delete name their object by id or tempId, not both; a delete has
    no fields."""
    command["commandId"] = f"c{index}"
    if "tempId" in command:
        command["tempId"] = f"t{index}"
    kind = command.get("type")
    if kind == "create":
        command.pop("id", None)
        command.pop("baseVersion", None)
        command["tempId"] = f"t{index}"
        command.setdefault("fields", {})
    elif kind in ("update", "delete"):
        if "id" in command and "tempId" in command:
            del command["tempId"]
        elif "id" not in command and "tempId" not in command:
            command["id"] = "01M8W00000000000000000000"
        if kind == "update":
            command.setdefault("fields", {})
        else:
            command.pop("fields", None)
