from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core.models import ChangeTracking, SettingsTable, SharedConnectionModel

from .infra import PROJECTS_TABLE, TABLE

LIVE = "live"
DELETED = "deleted"


def owner_key(user_id: str, value: str) -> str:
    """Index partition keys put the owner first: `<userId>#<value>`."""
    return f"{user_id}#{value}"


class TasksByProject(GlobalSecondaryIndex["Task"]):  # type: ignore[no-untyped-call]
    """Tasks of one of the owner's projects: GET /tasks?projectId= and the cascade delete."""

    class Meta:
        index_name = "byProject"
        projection = AllProjection()

    project_key = UnicodeAttribute(hash_key=True, attr_name="projectKey")
    task_id = UnicodeAttribute(range_key=True, attr_name="taskId")


class TasksByStatus(GlobalSecondaryIndex["Task"]):  # type: ignore[no-untyped-call]
    """The owner's tasks in one status: GET /tasks?status=."""

    class Meta:
        index_name = "byStatus"
        projection = AllProjection()

    status_key = UnicodeAttribute(hash_key=True, attr_name="statusKey")
    task_id = UnicodeAttribute(range_key=True, attr_name="taskId")


class LiveTasks(GlobalSecondaryIndex["Task"]):  # type: ignore[no-untyped-call]
    """The owner's live tasks: GET /tasks without tombstones (kept 30 days) in the way."""

    class Meta:
        index_name = "live"
        projection = AllProjection()

    live_owner = UnicodeAttribute(hash_key=True, attr_name="liveOwner")
    task_id = UnicodeAttribute(range_key=True, attr_name="taskId")


class TasksByCompletion(GlobalSecondaryIndex["Task"]):  # type: ignore[no-untyped-call]
    """The owner's completed or open tasks: GET /tasks?isCompleted=."""

    class Meta:
        index_name = "byCompletion"
        projection = AllProjection()

    completion_key = UnicodeAttribute(hash_key=True, attr_name="completionKey")
    task_id = UnicodeAttribute(range_key=True, attr_name="taskId")


def completion_key(user_id: str, is_completed: bool) -> str:
    return owner_key(user_id, "true" if is_completed else "false")


class Task(SharedConnectionModel, ChangeTracking):
    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    task_id = UnicodeAttribute(range_key=True, attr_name="taskId")
    project_id = UnicodeAttribute(attr_name="projectId")
    title = UnicodeAttribute()
    status = UnicodeAttribute()
    target_date = UnicodeAttribute(attr_name="targetDate", null=True)
    start_date = UnicodeAttribute(attr_name="startDate", null=True)
    is_completed = BooleanAttribute(attr_name="isCompleted", default=False)
    notes = UnicodeAttribute(null=True)
    priority = NumberAttribute(null=True)
    version = VersionAttribute()
    # Sparse index keys: set while the task is live, removed by its tombstone.
    live_owner = UnicodeAttribute(attr_name="liveOwner", null=True)
    project_key = UnicodeAttribute(attr_name="projectKey", null=True)
    status_key = UnicodeAttribute(attr_name="statusKey", null=True)
    completion_key = UnicodeAttribute(attr_name="completionKey", null=True)

    live = LiveTasks()
    by_project = TasksByProject()
    by_status = TasksByStatus()
    by_completion = TasksByCompletion()

    def refresh_index_keys(self) -> None:
        live = self.deleted_at is None
        self.live_owner = self.user_id if live else None
        self.project_key = owner_key(self.user_id, self.project_id) if live else None
        self.status_key = owner_key(self.user_id, self.status) if live else None
        completed = bool(self.is_completed)
        self.completion_key = completion_key(self.user_id, completed) if live else None


class ProjectRecord(SharedConnectionModel):
    """The Tasks service's own record of a project: enough to validate `projectId`.

    Filled by project events and, on a miss, from the Projects service's public API;
    tombstoned in the project deletion's own transaction. `deleted` is terminal: nothing
    turns a tombstone back into a live project.
    """

    class Meta(metaclass=SettingsTable):
        setting = PROJECTS_TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    project_id = UnicodeAttribute(range_key=True, attr_name="projectId")
    state = UnicodeAttribute()
    version = NumberAttribute()
    last_event_id = UnicodeAttribute(attr_name="lastEventId", null=True)
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
