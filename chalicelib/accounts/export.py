"""The export worker: one JSON document with everything of the caller (profile, projects,
tasks, notes with their attachments' metadata), streamed to the exports bucket as an S3
multipart upload.

Memory stays bounded: items are read a page at a time through each service's own list
function (so the document holds exactly what the API lists) and written out as a 5 MiB
part as soon as that much is buffered. Work per invocation is bounded too: a step stops
after EXPORT_ITEMS_PER_STEP items or when its time runs short, and hands on its cursor,
the upload's parts so far, and the unwritten rest of the buffer (under 5 MiB, S3's
smallest part but the last) as a `.tail.<step>` object, which the next step reads back.
Part numbers follow from the checkpoint, so a retried step rewrites the same parts.

The document:
    {"format": "tandem-export", "formatVersion": 1, "userId", "exportedAt",
     "profile": {...}, "projects": [...], "tasks": [...], "notes": [...]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.core.models import utcnow
from chalicelib.core.pagination import Page
from chalicelib.core.schema import Timestamp
from chalicelib.core.wiring import aws
from chalicelib.jobs.workers import Continue, Done, JobRun
from chalicelib.notes import service as notes
from chalicelib.notes.schemas import NoteOut
from chalicelib.profiles import service as profiles
from chalicelib.projects import service as projects
from chalicelib.projects.schemas import ProjectOut
from chalicelib.tasks import service as tasks
from chalicelib.tasks.schemas import TaskOut

from .infra import EXPORT_ITEMS_PER_STEP, EXPORT_PREFIX, EXPORT_URL_SECONDS, EXPORTS_BUCKET

PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (but the last)
PAGE_SIZE = 200
TIME_MARGIN_SECONDS = 20.0
FORMAT_VERSION = 1

Lister = Callable[[str, int, str | None], Page[Any]]
SECTIONS: tuple[tuple[str, Lister, Any, tuple[int, int]], ...] = (
    ("projects", projects.list_projects, ProjectOut, (5, 15)),
    ("tasks", tasks.list_tasks, TaskOut, (15, 75)),
    ("notes", notes.list_notes, NoteOut, (75, 98)),
)


def user_prefix(user_id: str) -> str:
    return f"{EXPORT_PREFIX}{user_id}/"


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class _Upload:
    def __init__(self, checkpoint: dict[str, Any]) -> None:
        self.cp = checkpoint
        self.bucket = EXPORTS_BUCKET.required()
        self.buffer = bytearray()

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.cp["bytes"] += len(data)
        if len(self.buffer) >= PART_BYTES:
            self.flush_part()

    def flush_part(self) -> None:
        number = len(self.cp["parts"]) + 1
        answer = aws("s3").upload_part(
            Bucket=self.bucket,
            Key=self.cp["key"],
            UploadId=self.cp["uploadId"],
            PartNumber=number,
            Body=bytes(self.buffer),
        )
        self.cp["parts"].append({"PartNumber": number, "ETag": answer["ETag"]})
        self.buffer = bytearray()


def _start(run: JobRun) -> tuple[dict[str, Any], bytes]:
    key = f"{user_prefix(run.user_id)}{run.job_id}.json"
    upload = aws("s3").create_multipart_upload(
        Bucket=EXPORTS_BUCKET.required(), Key=key, ContentType="application/json"
    )
    profile = profiles.export_profile(run.user_id, run.correlation_id, actor=f"job:{run.job_id}")
    header = {
        "format": "tandem-export",
        "formatVersion": FORMAT_VERSION,
        "userId": run.user_id,
        "exportedAt": Timestamp()._serialize(utcnow(), None, None),
        "profile": profile,
    }
    opening = _json(header)[:-1] + b',"' + SECTIONS[0][0].encode() + b'":['
    checkpoint = {
        "key": key,
        "uploadId": upload["UploadId"],
        "parts": [],
        "section": 0,
        "cursor": None,
        "first": True,
        "items": 0,
        "bytes": 0,
        "tail": None,
    }
    return checkpoint, opening


def _progress(checkpoint: Mapping[str, Any]) -> int:
    section = int(checkpoint["section"])
    if section >= len(SECTIONS):
        return 99
    return SECTIONS[section][3][0]


def export_step(run: JobRun) -> Done | Continue:
    s3 = aws("s3")
    if run.checkpoint is None:
        checkpoint, opening = _start(run)
        upload = _Upload(checkpoint)
        upload.write(opening)
    else:
        checkpoint = json.loads(json.dumps(run.checkpoint))  # a deep copy to change
        upload = _Upload(checkpoint)
        if checkpoint["tail"]:
            tail = s3.get_object(Bucket=upload.bucket, Key=checkpoint["tail"])["Body"].read()
            upload.buffer += tail
    budget = EXPORT_ITEMS_PER_STEP.number()
    done_here = 0
    while checkpoint["section"] < len(SECTIONS):
        if done_here >= budget or run.seconds_left() < TIME_MARGIN_SECONDS:
            break
        _, lister, schema, _ = SECTIONS[checkpoint["section"]]
        page = lister(run.user_id, PAGE_SIZE, checkpoint["cursor"])
        for item in schema(many=True).dump(page.items):
            upload.write((b"" if checkpoint["first"] else b",") + _json(item))
            checkpoint["first"] = False
        done_here += len(page.items)
        checkpoint["items"] += len(page.items)
        checkpoint["cursor"] = page.next_cursor
        if page.next_cursor is None:
            checkpoint["section"] += 1
            checkpoint["first"] = True
            following = checkpoint["section"]
            if following < len(SECTIONS):
                upload.write(b'],"' + SECTIONS[following][0].encode() + b'":[')
            else:
                upload.write(b"]}")
    if checkpoint["section"] < len(SECTIONS):
        checkpoint["tail"] = None
        if upload.buffer:
            checkpoint["tail"] = f"{checkpoint['key']}.tail.{run.step}"
            s3.put_object(Bucket=upload.bucket, Key=checkpoint["tail"], Body=bytes(upload.buffer))
        return Continue(checkpoint, _progress(checkpoint))
    upload.flush_part()
    s3.complete_multipart_upload(
        Bucket=upload.bucket,
        Key=checkpoint["key"],
        UploadId=checkpoint["uploadId"],
        MultipartUpload={"Parts": checkpoint["parts"]},
    )
    _delete_tails(checkpoint["key"])
    return Done(
        {"key": checkpoint["key"], "bytes": checkpoint["bytes"], "items": checkpoint["items"]}
    )


def _delete_tails(key: str) -> None:
    s3 = aws("s3")
    bucket = EXPORTS_BUCKET.required()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{key}.tail.")
    keys = [{"Key": item["Key"]} for item in listed.get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def present(user_id: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """A succeeded export as GET /jobs/{id} shows it: a fresh short-lived download URL."""
    key = str(result.get("key", ""))
    if not key.startswith(user_prefix(user_id)):
        return {}
    seconds = EXPORT_URL_SECONDS.number()
    url = aws("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": EXPORTS_BUCKET.required(), "Key": key},
        ExpiresIn=seconds,
    )
    expires = Timestamp()._serialize(utcnow() + timedelta(seconds=seconds), None, None)
    return {
        "downloadUrl": url,
        "expiresAt": expires,
        "bytes": result.get("bytes"),
        "items": result.get("items"),
    }
