"""What the Projects service owns: its table, its topic and its publisher (core.registry)."""

from __future__ import annotations

from chalicelib.accounts import erasure
from chalicelib.core.registry import Declaration, Setting, publisher
from chalicelib.core.resources import queue, table, topic

TABLE = Setting("TANDEM_PROJECTS_TABLE", ref="ProjectsTable")
TOPIC_ARN = Setting("TANDEM_PROJECTS_TOPIC_ARN", ref="ProjectsTopic")

# Its share of an account's deletion: the user's items, erased on user-deleted.
USER_ERASURE = erasure.declare("projects", "Projects", ["ProjectsTable"])

DECLARATION = Declaration(
    name="projects",
    publishes="project",
    resources={
        **USER_ERASURE.resources,
        # Owner-first key; the stream feeds the projects publisher. live (sparse: a
        # tombstone leaves it) serves GET /projects.
        "ProjectsTable": table(
            "projects",
            ("userId", "projectId"),
            indexes={"live": (("liveOwner", "projectId"), "ALL")},
            stream=True,
        ),
        "ProjectsTopic": topic("projects"),
        # Where the publisher's stream mapping sends a record it gave up on.
        "ProjectsPublisherDLQ": queue("projects-publisher-dlq"),
    },
    functions={
        **USER_ERASURE.functions,
        "publish_project_changes": publisher(
            "ProjectsTable", "ProjectsTopic", "ProjectsPublisherDLQ", "TANDEM_PROJECTS_STREAM_ARN"
        ),
    },
    router={
        # BatchGetItem: the changed projects GET /sync reads (get_projects_by_ids).
        # UpdateItem: PUT and PATCH, conditional, with no read before.
        "ProjectsTable": (
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ),
        "ProjectsTable/index/live": ("dynamodb:Query",),
    },
    settings=(TABLE, TOPIC_ARN, *USER_ERASURE.settings),
)
