"""The Notes service's publisher: its table's changes become note-* events."""

from __future__ import annotations

from chalicelib.core.publisher import ChangeSource

from .infra import DECLARATION, TOPIC_ARN
from .models import Note
from .schemas import NoteOut

NOTE_CHANGES = ChangeSource(
    source=DECLARATION.name,
    model=Note,
    id_attribute="noteId",
    dump=lambda note: dict(NoteOut().dump(note)),
    topic_arn=TOPIC_ARN.value,
)
