"""The sync table's items. One partition per user, told apart by the sort key `entryKey`:

- `counter`: the user's last allocated sequence number;
- `log#<seq, 12 digits>`: a log entry, a reference to one object at one version;
- `obj#<resource>#<id>`: the object's pointer, the seq and version of its one entry;
- `cmd#<commandId>`: the ledger's record of an applied offline command (POST /sync).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from chalicelib.core.models import CompressedText, SettingsTable, SharedConnectionModel

from .infra import TABLE

COUNTER_KEY = "counter"
LOG_PREFIX = "log#"
POINTER_PREFIX = "obj#"
COMMAND_PREFIX = "cmd#"
ANSWER_PREFIX = "ans#"
SEQ_DIGITS = 12


def log_key(seq: int) -> str:
    return f"{LOG_PREFIX}{seq:0{SEQ_DIGITS}d}"


def seq_of(entry_key: str) -> int:
    return int(entry_key[len(LOG_PREFIX) :])


def pointer_key(resource: str, object_id: str) -> str:
    return f"{POINTER_PREFIX}{resource}#{object_id}"


def command_key(command_id: str) -> str:
    return f"{COMMAND_PREFIX}{command_id}"


def answer_key(command_id: str) -> str:
    return f"{ANSWER_PREFIX}{command_id}"


class Counter(SharedConnectionModel):
    """The user's sequence: bumped, conditionally on its value, by every append."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey", default=COUNTER_KEY)
    seq = NumberAttribute(default=0)


class LogEntry(SharedConnectionModel):
    """One object at its latest logged version. A deletion's entry expires after the
    retention; a live object's entry stays as long as the object."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")
    resource = UnicodeAttribute()
    object_id = UnicodeAttribute(attr_name="objectId")
    version = NumberAttribute()
    deleted_at = UTCDateTimeAttribute(attr_name="deletedAt", null=True)
    logged_at = UTCDateTimeAttribute(attr_name="loggedAt")
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)

    @property
    def seq(self) -> int:
        return seq_of(self.entry_key)


class Pointer(SharedConnectionModel):
    """Where an object's one entry is (`seq`) and which version it holds: an older or
    repeated event finds a version at least as new here and changes nothing."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")
    seq = NumberAttribute()
    version = NumberAttribute()
    deleted = BooleanAttribute(default=False)
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)


class CommandRecord(SharedConnectionModel):
    """An offline command that was applied, and its outcome: a replay answers from it and
    changes nothing. `fingerprint` binds the record to the command as it was sent."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")
    fingerprint = UnicodeAttribute()
    status = UnicodeAttribute()
    resource = UnicodeAttribute()
    object_id = UnicodeAttribute(attr_name="objectId", null=True)
    temp_id = UnicodeAttribute(attr_name="tempId", null=True)
    version = NumberAttribute(null=True)
    problem = UnicodeAttribute(null=True)  # the error's problem object, as JSON
    applied_at = UTCDateTimeAttribute(attr_name="appliedAt")


class CommandAnswer(SharedConnectionModel):
    """The object an applied command answered with, as it was then (JSON, compressed),
    so that a replay answers byte for byte the same; kept a day, like an Idempotency-Key's
    answer. A later replay answers the object as it is now."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")
    object = CompressedText()
    expires_at = TTLAttribute(attr_name="expiresAt")


class Head(SharedConnectionModel):
    """The counter and a pointer read together (one BatchGetItem): the attributes of both,
    none required."""

    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    entry_key = UnicodeAttribute(range_key=True, attr_name="entryKey")
    seq = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
