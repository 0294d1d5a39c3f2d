"""The Projects service's publisher: its table's changes become project-* events."""

from __future__ import annotations

from chalicelib.core.publisher import ChangeSource
from chalicelib.core.settings import get_settings

from .models import Project
from .schemas import ProjectOut

PROJECT_CHANGES = ChangeSource(
    source="projects",
    model=Project,
    id_attribute="projectId",
    dump=lambda project: dict(ProjectOut().dump(project)),
    topic_arn=lambda: get_settings().projects_topic_arn,
)
