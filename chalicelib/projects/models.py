from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.core.models import ChangeTracking, SettingsTable, SharedConnectionModel

from .infra import TABLE


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
