"""The profile and its audit records. Only the gatekeeper's code imports this module."""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)

from chalicelib.core.models import SettingsTable, SharedConnectionModel

from .infra import AUDIT_TABLE, TABLE


class Profile(SharedConnectionModel):
    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    display_name = UnicodeAttribute(attr_name="displayName", null=True)
    time_zone = UnicodeAttribute(attr_name="timeZone")
    locale = UnicodeAttribute()
    preferences = JSONAttribute(default=dict)
    version = VersionAttribute()
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    request_id = UnicodeAttribute(attr_name="requestId", null=True)


class AuditRecord(SharedConnectionModel):
    """Who did what to whose profile, when, under which correlation id, with what outcome.
    Never the profile's contents: `fields` names the fields a write set, not their values."""

    class Meta(metaclass=SettingsTable):
        setting = AUDIT_TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")  # the profile's owner
    audit_id = UnicodeAttribute(range_key=True, attr_name="auditId")  # a ULID: time order
    actor = UnicodeAttribute()  # the caller: the user's own sub, or a job ("job:<jobId>")
    action = UnicodeAttribute()  # read | write | delete | export
    outcome = UnicodeAttribute()  # ok | not-found | precondition-failed | ...
    correlation_id = UnicodeAttribute(attr_name="correlationId")
    at = UTCDateTimeAttribute()
    fields = ListAttribute(of=UnicodeAttribute, null=True)
