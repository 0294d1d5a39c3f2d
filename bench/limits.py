"""The sizes that the body cap and DynamoDB's item limit are sized by (docs/decisions.md).

Run: .venv/bin/python bench/limits.py

Builds the largest legal body of each resource (every text field at its maximum in
random astral characters, the worst case for compression, as tests/test_limits.py does)
and reports its size as a client escaping everything would send it, the stored note item
and its tombstone by DynamoDB's item-size rules, and the idempotency record's compressed
answer. Deterministic: no timing, no AWS. Writes docs/benchmarks.md (section "Limits").
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TANDEM_STAGE", "dev")

from bench.report import write_section  # noqa: E402
from chalicelib.core.settings import MAX_BODY_BYTES  # noqa: E402
from chalicelib.notes.models import Note  # noqa: E402
from chalicelib.notes.schemas import NoteOut  # noqa: E402
from tests.test_limits import escaped, largest  # noqa: E402

DYNAMODB_ITEM_LIMIT = 400_000  # 400 KB, read as decimal: the strictest reading
PROJECT_ID, TASK_ID, NOTE_ID = (
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "01ARZ3NDEKTSV4RRFFQ69G5FAW",
    "01ARZ3NDEKTSV4RRFFQ69G5FAX",
)
USER_ID = "7d2c5f0a-1234-4567-89ab-0123456789ab"


def value_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (string and binary exact, numbers bounded)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind in ("B", "N"):
        return len(raw) if kind == "B" else 21
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    return 1


def item_size(attributes: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in attributes.items())


def main() -> None:
    lines = ["| measure | bytes |", "|---|---|"]
    for kind in ("projects", "tasks", "notes"):
        body = escaped(largest(kind, PROJECT_ID, TASK_ID))
        lines.append(f"| largest legal {kind[:-1]} body, all `\\uXXXX` escapes | {len(body):,} |")
    lines.append(f"| body cap (`TANDEM_MAX_BODY_BYTES`) | {MAX_BODY_BYTES:,} |")

    fields = largest("notes", PROJECT_ID, TASK_ID)
    now = datetime.now(UTC)
    note = Note(
        USER_ID,
        NOTE_ID,
        created_at=now,
        updated_at=now,
        request_id="R" * 128,  # the longest X-Request-Id the router accepts
        title=fields["title"],
        body=fields["body"],
        project_id=PROJECT_ID,
        task_id=TASK_ID,
        tags=fields["tags"],
        version=1,
    )
    note.refresh_index_keys()
    live = note.serialize()
    lines.append(f"| note body, UTF-8 | {len(fields['body'].encode()):,} |")
    lines.append(f"| note body, stored compressed | {len(live['body']['B']):,} |")
    lines.append(f"| largest note item | {item_size(live):,} |")
    note.deleted_at = now
    note.expires_at = now + timedelta(days=30)
    note.refresh_index_keys()
    lines.append(f"| its tombstone | {item_size(note.serialize()):,} |")
    lines.append(f"| DynamoDB's item limit (strictest reading) | {DYNAMODB_ITEM_LIMIT:,} |")
    answer = json.dumps(NoteOut().dump(note), ensure_ascii=False).encode()
    lines.append(f"| largest note answer, UTF-8 JSON | {len(answer):,} |")
    lines.append(
        f"| the same, compressed in the idempotency record | {len(zlib.compress(answer)):,} |"
    )
    for line in lines:
        print(line)
    write_section("Limits", ["Command: `.venv/bin/python bench/limits.py`", "", *lines])


if __name__ == "__main__":
    main()
