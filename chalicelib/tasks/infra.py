"""What the Tasks service owns: its tables, its topic and publisher, and its subscriptions
to the projects topic with their queues (core.registry)."""

from __future__ import annotations

from chalicelib.accounts import erasure
from chalicelib.core.registry import Declaration, Function, Setting, Trigger, publisher
from chalicelib.core.resources import queue, queue_policy, subscription, table, topic

TABLE = Setting("TANDEM_TASKS_TABLE", ref="TasksTable")
PROJECTS_TABLE = Setting("TANDEM_TASK_PROJECTS_TABLE", ref="TaskProjectsTable")
TOPIC_ARN = Setting("TANDEM_TASKS_TOPIC_ARN", ref="TasksTopic")
UPSERTS_DLQ_URL = Setting("TANDEM_PROJECT_UPSERTS_DLQ_URL", ref="TasksProjectUpsertsDLQ")
DELETIONS_QUEUE_URL = Setting(
    "TANDEM_PROJECT_DELETIONS_QUEUE_URL", ref="TasksProjectDeletionsQueue"
)
DELETIONS_DLQ_URL = Setting("TANDEM_PROJECT_DELETIONS_DLQ_URL", ref="TasksProjectDeletionsDLQ")
CASCADE_MAX_TASKS = Setting("TANDEM_CASCADE_MAX_TASKS", default="2000")
CASCADE_SWEEP_DELAY = Setting("TANDEM_CASCADE_SWEEP_DELAY_SECONDS", default="60")
# A cascade round stops taking new tasks when less than this is left of its Lambda's time
# (on_project_deleted's timeout below).
CASCADE_TIME_MARGIN = Setting("TANDEM_CASCADE_TIME_MARGIN_SECONDS", default="30")

# BatchGetItem: whether the tasks notes link to are deleted (a link reads as null);
# ConditionCheckItem: a note write's guard that the task it links to is still live.
_TASKS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
)

# Its share of an account's deletion: the user's items, erased on user-deleted.
USER_ERASURE = erasure.declare("tasks", "Tasks", ["TasksTable", "TaskProjectsTable"])

DECLARATION = Declaration(
    name="tasks",
    publishes="task",
    resources={
        **USER_ERASURE.resources,
        # live serves GET /tasks, byProject ?projectId= and the cascade delete, byStatus
        # ?status=, byCompletion ?isCompleted=. All are sparse: a tombstoned task leaves them.
        "TasksTable": table(
            "tasks",
            ("userId", "taskId"),
            indexes={
                "live": (("liveOwner", "taskId"), "ALL"),
                "byProject": (("projectKey", "taskId"), "ALL"),
                "byStatus": (("statusKey", "taskId"), "ALL"),
                "byCompletion": (("completionKey", "taskId"), "ALL"),
            },
            stream=True,
        ),
        # The service's own record of projects (live or tombstoned), for POST /tasks.
        "TaskProjectsTable": table("task-projects", ("userId", "projectId")),
        "TasksTopic": topic("tasks"),
        "TasksPublisherDLQ": queue("tasks-publisher-dlq"),
        # project-created/updated keep the record of projects. Visibility is 6x the
        # consumer's timeout (on_project_upserted, 30 s).
        "TasksProjectUpsertsDLQ": queue("tasks-project-upserts-dlq"),
        "TasksProjectUpsertsQueue": queue(
            "tasks-project-upserts", visibility=180, dead_letters="TasksProjectUpsertsDLQ"
        ),
        "TasksProjectUpsertsSubscription": subscription(
            "ProjectsTopic", "TasksProjectUpsertsQueue", ["project-created", "project-updated"]
        ),
        # project-deleted tombstones the record and cascades in bounded rounds. Visibility
        # is 6x the consumer's timeout (on_project_deleted, 120 s).
        "TasksProjectDeletionsDLQ": queue("tasks-project-deletions-dlq"),
        "TasksProjectDeletionsQueue": queue(
            "tasks-project-deletions", visibility=720, dead_letters="TasksProjectDeletionsDLQ"
        ),
        "TasksProjectDeletionsSubscription": subscription(
            "ProjectsTopic", "TasksProjectDeletionsQueue", ["project-deleted"]
        ),
        # Only the projects topic may deliver to these queues.
        "TasksProjectQueuesPolicy": queue_policy(
            ["TasksProjectUpsertsQueue", "TasksProjectDeletionsQueue"], ["ProjectsTopic"]
        ),
    },
    functions={
        **USER_ERASURE.functions,
        "publish_task_changes": publisher(
            "TasksTable", "TasksTopic", "TasksPublisherDLQ", "TANDEM_TASKS_STREAM_ARN"
        ),
        # A poison message goes to the queue's DLQ directly.
        "on_project_upserted": Function(
            timeout=30,
            trigger=Trigger("TANDEM_PROJECT_UPSERTS_QUEUE_ARN", "TasksProjectUpsertsQueue", "Arn"),
            batch_size=10,
            allow={
                "TaskProjectsTable": ("dynamodb:PutItem",),
                "TasksProjectUpsertsDLQ": ("sqs:SendMessage",),
            },
        ),
        "on_project_deleted": Function(
            timeout=120,
            trigger=Trigger(
                "TANDEM_PROJECT_DELETIONS_QUEUE_ARN", "TasksProjectDeletionsQueue", "Arn"
            ),
            batch_size=1,
            allow={
                "TaskProjectsTable": ("dynamodb:PutItem",),
                # The cascade: the project's tasks through the index, tombstoned in
                # batches of 25.
                "TasksTable/index/byProject": ("dynamodb:Query",),
                "TasksTable": ("dynamodb:BatchWriteItem",),
                # A round that runs out of time or budget hands the rest on to its queue.
                "TasksProjectDeletionsQueue": ("sqs:SendMessage",),
                "TasksProjectDeletionsDLQ": ("sqs:SendMessage",),
            },
        ),
    },
    router={
        "TasksTable": _TASKS,
        "TasksTable/index/live": ("dynamodb:Query",),
        "TasksTable/index/byProject": ("dynamodb:Query",),
        "TasksTable/index/byStatus": ("dynamodb:Query",),
        "TasksTable/index/byCompletion": ("dynamodb:Query",),
        # The record of projects: read, filled on a miss, checked in the task write's
        # transaction.
        "TaskProjectsTable": (
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:PutItem",
        ),
    },
    settings=(
        TABLE,
        PROJECTS_TABLE,
        TOPIC_ARN,
        UPSERTS_DLQ_URL,
        DELETIONS_QUEUE_URL,
        DELETIONS_DLQ_URL,
        CASCADE_MAX_TASKS,
        CASCADE_SWEEP_DELAY,
        CASCADE_TIME_MARGIN,
        *USER_ERASURE.settings,
    ),
)
