"""The Projects service's publisher: its table's changes become project-* events."""

from __future__ import annotations

from chalicelib.core.publisher import ChangeSource

from .infra import DECLARATION, TOPIC_ARN
from .models import Project
from .schemas import ProjectOut

PROJECT_CHANGES = ChangeSource(
    source=DECLARATION.name,
    model=Project,
    id_attribute="projectId",
    dump=lambda project: dict(ProjectOut().dump(project)),
    topic_arn=TOPIC_ARN.value,
)
