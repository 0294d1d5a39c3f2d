"""What the Projects service owns: its table, its topic and its publisher (core.registry)."""

from __future__ import annotations

from chalicelib.core.registry import Declaration, Function, Setting, Trigger
from chalicelib.core.resources import queue, table, topic

TABLE = Setting("TANDEM_PROJECTS_TABLE", ref="ProjectsTable")
TOPIC_ARN = Setting("TANDEM_PROJECTS_TOPIC_ARN", ref="ProjectsTopic")

DECLARATION = Declaration(
    name="projects",
    publishes="project",
    resources={
        # Owner-first key; the stream feeds the projects publisher.
        "ProjectsTable": table("projects", ("userId", "projectId"), stream=True),
        "ProjectsTopic": topic("projects"),
        # Where the publisher's stream mapping sends a record it gave up on.
        "ProjectsPublisherDLQ": queue("projects-publisher-dlq"),
    },
    functions={
        # The table's stream -> the service's topic (the only role with sns:Publish on it).
        "publish_project_changes": Function(
            timeout=30,
            trigger=Trigger("TANDEM_PROJECTS_STREAM_ARN", "ProjectsTable", "StreamArn"),
            on_failure="ProjectsPublisherDLQ",
            allow={"ProjectsTopic": ("sns:Publish",)},
        ),
    },
    router={"ProjectsTable": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")},
    settings=(TABLE, TOPIC_ARN),
)
