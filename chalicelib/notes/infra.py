"""What the Notes service owns: its table, its topic and its publisher, and its
subscription to project and task deletions with its queue (core.registry)."""

from __future__ import annotations

from chalicelib.accounts import erasure
from chalicelib.core.registry import Declaration, Function, Setting, Trigger, publisher
from chalicelib.core.resources import queue, queue_policy, subscription, table, topic

TABLE = Setting("TANDEM_NOTES_TABLE", ref="NotesTable")
TAGS_TABLE = Setting("TANDEM_NOTE_TAGS_TABLE", ref="NoteTagsTable")
TOPIC_ARN = Setting("TANDEM_NOTES_TOPIC_ARN", ref="NotesTopic")
UNLINKS_QUEUE_URL = Setting("TANDEM_NOTE_UNLINKS_QUEUE_URL", ref="NotesUnlinksQueue")
UNLINKS_DLQ_URL = Setting("TANDEM_NOTE_UNLINKS_DLQ_URL", ref="NotesUnlinksDLQ")
# An unlink is one UpdateItem per note; a round hands on after this many.
UNLINK_MAX_NOTES = Setting("TANDEM_UNLINK_MAX_NOTES", default="1000")
UNLINK_SWEEP_DELAY = Setting("TANDEM_UNLINK_SWEEP_DELAY_SECONDS", default="60")
# A round stops when less than this is left of on_reference_deleted's time (120 s).
UNLINK_TIME_MARGIN = Setting("TANDEM_UNLINK_TIME_MARGIN_SECONDS", default="30")

# Its share of an account's deletion: the user's items, erased on user-deleted.
USER_ERASURE = erasure.declare("notes", "Notes", ["NotesTable", "NoteTagsTable"])

DECLARATION = Declaration(
    name="notes",
    publishes="note",
    resources={
        **USER_ERASURE.resources,
        # All indexes are sparse: live holds the live notes (GET /notes), byProject and
        # byTask only live notes with that reference.
        "NotesTable": table(
            "notes",
            ("userId", "noteId"),
            indexes={
                "live": (("liveOwner", "noteId"), "ALL"),
                "byProject": (("projectKey", "noteId"), "ALL"),
                "byTask": (("taskKey", "noteId"), "ALL"),
            },
            stream=True,
        ),
        # One item per (live note, tag), written in the note's transactions: ?tag=.
        "NoteTagsTable": table("note-tags", ("userId", "tagNote")),
        "NotesTopic": topic("notes"),
        # Where the publisher's stream mapping sends a record it gave up on.
        "NotesPublisherDLQ": queue("notes-publisher-dlq"),
        # project-deleted and task-deleted unlink the notes linked to them, in bounded
        # rounds. Visibility is 6x the consumer's timeout (on_reference_deleted, 120 s).
        "NotesUnlinksDLQ": queue("notes-unlinks-dlq"),
        "NotesUnlinksQueue": queue("notes-unlinks", visibility=720, dead_letters="NotesUnlinksDLQ"),
        "NotesProjectDeletionsSubscription": subscription(
            "ProjectsTopic", "NotesUnlinksQueue", ["project-deleted"]
        ),
        "NotesTaskDeletionsSubscription": subscription(
            "TasksTopic", "NotesUnlinksQueue", ["task-deleted"]
        ),
        # Only the projects and tasks topics may deliver to it.
        "NotesUnlinksQueuePolicy": queue_policy(
            ["NotesUnlinksQueue"], ["ProjectsTopic", "TasksTopic"]
        ),
    },
    functions={
        **USER_ERASURE.functions,
        "publish_note_changes": publisher(
            "NotesTable", "NotesTopic", "NotesPublisherDLQ", "TANDEM_NOTES_STREAM_ARN"
        ),
        "on_reference_deleted": Function(
            timeout=120,
            trigger=Trigger("TANDEM_NOTE_UNLINKS_QUEUE_ARN", "NotesUnlinksQueue", "Arn"),
            batch_size=10,
            allow={
                # The notes linked to the deleted project or task, one UpdateItem each.
                "NotesTable/index/byProject": ("dynamodb:Query",),
                "NotesTable/index/byTask": ("dynamodb:Query",),
                "NotesTable": ("dynamodb:UpdateItem",),
                # A round that runs out of time or budget hands the rest on to its queue.
                "NotesUnlinksQueue": ("sqs:SendMessage",),
                "NotesUnlinksDLQ": ("sqs:SendMessage",),
            },
        ),
    },
    router={
        # BatchGetItem: the notes of a ?tag= page, and the changed notes GET /sync reads
        # (get_notes_by_ids).
        "NotesTable": ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem"),
        "NotesTable/index/live": ("dynamodb:Query",),
        "NotesTable/index/byProject": ("dynamodb:Query",),
        "NotesTable/index/byTask": ("dynamodb:Query",),
        # The tag entries: read by ?tag=, written in the note's transactions.
        "NoteTagsTable": ("dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"),
    },
    settings=(
        TABLE,
        TAGS_TABLE,
        TOPIC_ARN,
        UNLINKS_QUEUE_URL,
        UNLINKS_DLQ_URL,
        UNLINK_MAX_NOTES,
        UNLINK_SWEEP_DELAY,
        UNLINK_TIME_MARGIN,
        *USER_ERASURE.settings,
    ),
)
