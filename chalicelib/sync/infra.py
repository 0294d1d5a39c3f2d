"""What the Sync service owns: its table (the per-user change log and the ledger of offline
commands), the queue that feeds the log from the projects, tasks and notes topics, and its
consumer, which hands each change on to the realtime push once it is in the log
(core.registry; design in docs/sync.md)."""

from __future__ import annotations

from chalicelib.accounts import erasure
from chalicelib.core.registry import Declaration, Function, Setting, Trigger
from chalicelib.core.resources import queue, queue_policy, subscription, table

TABLE = Setting("TANDEM_SYNC_TABLE", ref="SyncTable")
CHANGES_DLQ_URL = Setting("TANDEM_SYNC_CHANGES_DLQ_URL", ref="SyncChangesDLQ")
# Where a change goes once it is in the log: the realtime service's push queue.
PUSH_QUEUE_URL = Setting("TANDEM_SYNC_PUSH_QUEUE_URL", ref="RealtimePushQueue")
# How long the log keeps a deletion, and so how old a cursor may be (minus a day of margin
# for clocks): docs/sync.md, Retention.
RETENTION_DAYS = Setting("TANDEM_SYNC_RETENTION_DAYS", default="30")
# Log entries one GET /sync reads at most (a page also ends by weight).
PAGE_ENTRIES = Setting("TANDEM_SYNC_PAGE_ENTRIES", default="200")

# Its share of an account's deletion: the user's change log, erased on user-deleted.
USER_ERASURE = erasure.declare("sync", "Sync", ["SyncTable"])

DECLARATION = Declaration(
    name="sync",
    resources={
        **USER_ERASURE.resources,
        # One partition per user: the log entries (log#<seq>), the per-object pointers
        # (obj#<resource>#<id>), the user's sequence counter, and the ledger of offline
        # commands (cmd#<commandId>). No index: every read is a strongly consistent
        # GetItem or Query on the table itself.
        "SyncTable": table("sync", ("userId", "entryKey")),
        # Every project, task and note change -> the log. Visibility is 6x the consumer's
        # timeout (log_changes, 30 s).
        "SyncChangesDLQ": queue("sync-changes-dlq"),
        "SyncChangesQueue": queue("sync-changes", visibility=180, dead_letters="SyncChangesDLQ"),
        "SyncProjectsSubscription": subscription(
            "ProjectsTopic", "SyncChangesQueue", [{"prefix": "project-"}]
        ),
        "SyncTasksSubscription": subscription(
            "TasksTopic", "SyncChangesQueue", [{"prefix": "task-"}]
        ),
        "SyncNotesSubscription": subscription(
            "NotesTopic", "SyncChangesQueue", [{"prefix": "note-"}]
        ),
        "SyncChangesQueuePolicy": queue_policy(
            ["SyncChangesQueue"], ["ProjectsTopic", "TasksTopic", "NotesTopic"]
        ),
    },
    functions={
        **USER_ERASURE.functions,
        "log_changes": Function(
            timeout=30,
            trigger=Trigger("TANDEM_SYNC_CHANGES_QUEUE_ARN", "SyncChangesQueue", "Arn"),
            batch_size=10,
            allow={
                # Read the counter and the object's pointer, then one transaction: bump
                # the counter, put the entry and the pointer, delete the previous entry.
                "SyncTable": (
                    "dynamodb:BatchGetItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ),
                # Then the change is handed on to the push.
                "RealtimePushQueue": ("sqs:SendMessage",),
                "SyncChangesDLQ": ("sqs:SendMessage",),
            },
        ),
    },
    router={
        # GET /sync reads the counter and queries the log; POST /sync reads, claims and
        # records commands in the ledger. The objects themselves are read and written
        # through their services.
        "SyncTable": (
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
        ),
    },
    settings=(
        TABLE,
        CHANGES_DLQ_URL,
        PUSH_QUEUE_URL,
        RETENTION_DAYS,
        PAGE_ENTRIES,
        *USER_ERASURE.settings,
    ),
)
