from __future__ import annotations

from pynamodb.attributes import ListAttribute, MapAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core.models import (
    ChangeTracking,
    CompressedText,
    SettingsTable,
    SharedConnectionModel,
)

from .infra import TABLE, TAGS_TABLE


def owner_key(user_id: str, value: str) -> str:
    return f"{user_id}#{value}"


class NotesByProject(GlobalSecondaryIndex["Note"]):  # type: ignore[no-untyped-call]
    """The owner's notes about one project: GET /notes?projectId=. Sparse."""

    class Meta:
        index_name = "byProject"
        projection = AllProjection()

    project_key = UnicodeAttribute(hash_key=True, attr_name="projectKey")
    note_id = UnicodeAttribute(range_key=True, attr_name="noteId")


class NotesByTask(GlobalSecondaryIndex["Note"]):  # type: ignore[no-untyped-call]
    """The owner's notes about one task: GET /notes?taskId=. Sparse."""

    class Meta:
        index_name = "byTask"
        projection = AllProjection()

    task_key = UnicodeAttribute(hash_key=True, attr_name="taskKey")
    note_id = UnicodeAttribute(range_key=True, attr_name="noteId")


class LiveNotes(GlobalSecondaryIndex["Note"]):  # type: ignore[no-untyped-call]
    """The owner's live notes: GET /notes without tombstones (kept 30 days) in the way."""

    class Meta:
        index_name = "live"
        projection = AllProjection()

    live_owner = UnicodeAttribute(hash_key=True, attr_name="liveOwner")
    note_id = UnicodeAttribute(range_key=True, attr_name="noteId")


class Attachment(MapAttribute[str, str]):
    attachment_id = UnicodeAttribute(attr_name="attachmentId")
    file_name = UnicodeAttribute(attr_name="fileName", null=True)
    content_type = UnicodeAttribute(attr_name="contentType", null=True)


class Note(SharedConnectionModel, ChangeTracking):
    class Meta(metaclass=SettingsTable):
        setting = TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    note_id = UnicodeAttribute(range_key=True, attr_name="noteId")
    title = UnicodeAttribute(null=True)
    body = CompressedText(null=True)
    project_id = UnicodeAttribute(attr_name="projectId", null=True)
    task_id = UnicodeAttribute(attr_name="taskId", null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    attachments = ListAttribute(of=Attachment, default=list)
    version = VersionAttribute()
    live_owner = UnicodeAttribute(attr_name="liveOwner", null=True)
    project_key = UnicodeAttribute(attr_name="projectKey", null=True)
    task_key = UnicodeAttribute(attr_name="taskKey", null=True)

    live = LiveNotes()
    by_project = NotesByProject()
    by_task = NotesByTask()

    def refresh_index_keys(self) -> None:
        live = self.deleted_at is None
        self.live_owner = self.user_id if live else None
        self.project_key = (
            owner_key(self.user_id, self.project_id) if live and self.project_id else None
        )
        self.task_key = owner_key(self.user_id, self.task_id) if live and self.task_id else None


# Ends the tag in an entry's sort key. No input holds U+001F (core.schema refuses C0
# controls other than tab, LF and CR), so "<tag>\x1f" is a prefix of that tag's entries
# only: with "#", the entries of tag "a#b" would start with "a#" too.
TAG_END = "\x1f"


def tag_prefix(tag: str) -> str:
    return f"{tag}{TAG_END}"


class NoteTag(SharedConnectionModel):
    """One (tag, note) of a live note, in its own table: GET /notes?tag= is a Query of
    the owner's partition for the sort keys that begin with the tag, since no key can hold
    an element of a list. Written in the note's own transactions, so an entry exists
    exactly while its note is live and has the tag. Owner-first, like every key."""

    class Meta(metaclass=SettingsTable):
        setting = TAGS_TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    tag_note = UnicodeAttribute(range_key=True, attr_name="tagNote")

    @classmethod
    def of(cls, user_id: str, tag: str, note_id: str) -> NoteTag:
        return cls(user_id, tag_prefix(tag) + note_id)

    @property
    def note_id(self) -> str:
        return self.tag_note.rpartition(TAG_END)[2]
