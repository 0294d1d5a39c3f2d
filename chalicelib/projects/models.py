from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core.models import ChangeTracking, SettingsTable, SharedConnectionModel

from .infra import TABLE


class LiveProjects(GlobalSecondaryIndex["Project"]):  # type: ignore[no-untyped-call]
    """The owner's live projects: GET /projects without tombstones (kept 30 days) in the way."""

    class Meta:
        index_name = "live"
        projection = AllProjection()

    live_owner = UnicodeAttribute(hash_key=True, attr_name="liveOwner")
    project_id = UnicodeAttribute(range_key=True, attr_name="projectId")


class Project(SharedConnectionModel, ChangeTracking):
    """Key: the owner first, so every request is a GetItem or Query on the caller's partition."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    project_id = UnicodeAttribute(range_key=True, attr_name="projectId")
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    color = UnicodeAttribute(null=True)
    archived = BooleanAttribute(default=False)
    version = VersionAttribute()
    # Sparse index key: set while the project is live, removed by its tombstone.
    live_owner = UnicodeAttribute(attr_name="liveOwner", null=True)

    live = LiveProjects()

    def refresh_index_keys(self) -> None:
        self.live_owner = self.user_id if self.deleted_at is None else None
