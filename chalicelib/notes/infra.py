"""What the Notes service owns: its table, its topic and its publisher (core.registry)."""

from __future__ import annotations

from chalicelib.core.registry import Declaration, Setting, publisher
from chalicelib.core.resources import queue, table, topic

TABLE = Setting("TANDEM_NOTES_TABLE", ref="NotesTable")
TOPIC_ARN = Setting("TANDEM_NOTES_TOPIC_ARN", ref="NotesTopic")

DECLARATION = Declaration(
    name="notes",
    publishes="note",
    resources={
        # byProject and byTask are sparse: only notes with that reference.
        "NotesTable": table(
            "notes",
            ("userId", "noteId"),
            indexes={
                "byProject": (("projectKey", "noteId"), "ALL"),
                "byTask": (("taskKey", "noteId"), "ALL"),
            },
            stream=True,
        ),
        "NotesTopic": topic("notes"),
        # Where the publisher's stream mapping sends a record it gave up on.
        "NotesPublisherDLQ": queue("notes-publisher-dlq"),
    },
    functions={
        "publish_note_changes": publisher(
            "NotesTable", "NotesTopic", "NotesPublisherDLQ", "TANDEM_NOTES_STREAM_ARN"
        ),
    },
    router={
        "NotesTable": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"),
        "NotesTable/index/byProject": ("dynamodb:Query",),
        "NotesTable/index/byTask": ("dynamodb:Query",),
    },
    settings=(TABLE, TOPIC_ARN),
)
