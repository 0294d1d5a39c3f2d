"""The Notes service's share of an account's deletion: on user-deleted, the
user's items in its tables are erased in bounded rounds, then reported done to the
deletion job (chalicelib.accounts.erasure)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.accounts import erasure
from chalicelib.core.erasure import Partition

from .infra import DECLARATION, TABLE, TAGS_TABLE, USER_ERASURE

bp = Blueprint(__name__)

_on_user_deleted = erasure.consumer(
    DECLARATION.name,
    USER_ERASURE,
    [
        Partition(TABLE.required, "userId", "noteId"),
        Partition(TAGS_TABLE.required, "userId", "tagNote"),
    ],
)


@bp.on_sqs_message(**DECLARATION.queue_trigger(USER_ERASURE.function))
def erase_notes_of_user(event: SQSEvent) -> dict[str, Any]:
    """user-deleted -> the user's items erased, in bounded rounds."""
    context: Any = event.context
    return _on_user_deleted(event.to_dict(), lambda: context.get_remaining_time_in_millis() / 1000)
