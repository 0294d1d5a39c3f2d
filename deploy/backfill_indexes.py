"""Backfills the sparse index keys and tag entries that issue 11 added, for items stored
before it (they have no `liveOwner`, `completionKey` or note-tag entries, so the new
indexes do not list them). An operator's one-off, run once per stage after deploying:

    python -m deploy.backfill_indexes --projects <table> --tasks <table> \\
        --notes <table> --note-tags <table> [--region R]

It Scans each table (an administrative pass, never a request path), recomputes each live
item's index keys with the model's own `refresh_index_keys`, and writes only the missing
ones with an UpdateItem conditioned on the item's version, so a concurrent write by the
app is never overwritten (its own write already set the keys). Tombstones are left alone.
Idempotent: a second run finds nothing to do. Prints what it changed per table.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

_KEYS = {
    "projects": ("liveOwner",),
    "tasks": ("liveOwner", "projectKey", "statusKey", "completionKey"),
    "notes": ("liveOwner", "projectKey", "taskKey"),
}


_RANGE_KEY = {"projects": "projectId", "tasks": "taskId", "notes": "noteId"}


def _items(client: Any, table: str) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        yield from page["Items"]


def _model(kind: str) -> Any:
    if kind == "projects":
        from chalicelib.projects.models import Project

        return Project
    if kind == "tasks":
        from chalicelib.tasks.models import Task

        return Task
    from chalicelib.notes.models import Note

    return Note


def backfill(client: Any, kind: str, table: str, tags_table: str | None = None) -> int:
    """Returns how many items it updated."""
    model = _model(kind)
    updated = 0
    for raw in _items(client, table):
        if "deletedAt" in raw:
            continue
        item = model.from_raw_data(raw)
        item.refresh_index_keys()
        wanted = item.serialize(null_check=False)
        missing = {name: wanted[name] for name in _KEYS[kind] if name in wanted and name not in raw}
        if missing:
            names = {f"#k{i}": name for i, name in enumerate(missing)}
            values = {f":k{i}": value for i, value in enumerate(missing.values())}
            key = {name: raw[name] for name in ("userId", _RANGE_KEY[kind])}
            try:
                client.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET "
                    + ", ".join(f"{n} = {v}" for n, v in zip(names, values, strict=True)),
                    ConditionExpression="#version = :version AND attribute_not_exists(deletedAt)",
                    ExpressionAttributeNames={**names, "#version": "version"},
                    ExpressionAttributeValues={**values, ":version": raw["version"]},
                )
            except client.exceptions.ConditionalCheckFailedException:
                continue  # the app wrote it meanwhile, keys included
            updated += 1
        if kind == "notes" and tags_table:
            from chalicelib.notes.models import NoteTag

            for tag in item.tags or ():
                # A put of the entry is idempotent; the note's transactions own it after. A
                # note deleted meanwhile leaves a stale entry, which ?tag= skips.
                client.put_item(
                    TableName=tags_table,
                    Item=NoteTag.of(item.user_id, tag, item.note_id).serialize(),
                )
    return updated


def main(argv: list[str] | None = None) -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", required=True)
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--notes", required=True)
    parser.add_argument("--note-tags", required=True)
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    client = boto3.client("dynamodb", region_name=args.region)
    for kind, table in (("projects", args.projects), ("tasks", args.tasks), ("notes", args.notes)):
        count = backfill(client, kind, table, args.note_tags if kind == "notes" else None)
        print(f"{kind}: {count} items given their index keys")


if __name__ == "__main__":
    main()
