"""The Tasks service's events: its table's changes become task-* events."""

from __future__ import annotations

from chalicelib.core.publisher import ChangeSource

from . import infra
from .models import Task
from .schemas import TaskOut

TASK_CHANGES = ChangeSource(
    source=infra.DECLARATION.name,
    model=Task,
    id_attribute="taskId",
    dump=lambda task: dict(TaskOut().dump(task)),
    topic_arn=infra.TOPIC_ARN.value,
)
