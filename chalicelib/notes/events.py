"""The Notes service's publisher: its table's changes become note-* events."""

from __future__ import annotations

from chalicelib.core.publisher import ChangeSource
from chalicelib.core.settings import get_settings

from .models import Note
from .schemas import NoteOut

NOTE_CHANGES = ChangeSource(
    source="notes",
    model=Note,
    id_attribute="noteId",
    dump=lambda note: dict(NoteOut().dump(note)),
    topic_arn=lambda: get_settings().notes_topic_arn,
)
