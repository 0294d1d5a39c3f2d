"""Tokens of deleted users. API Gateway's Cognito authorizer checks a token's signature
and expiry, not whether its user still exists: after `DELETE /me` the ID token it holds
stays valid for up to an hour. So the router asks this list on every authenticated
request, in every stage (one GetItem on the caller's key):
- `deleting`: from the moment the deletion is accepted, every request answers 401,
  except reading the one path the entry names (the deletion's progress), so that no new
  data races the services' deletion;
- `deleted`: everything answers 401. The entry expires (TTL) once every token issued
  before the deletion has expired; a new account never has the old `sub`.
"""

from __future__ import annotations

from datetime import timedelta

from chalice.app import Request
from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist

from . import infra
from .errors import Unauthorized
from .models import SettingsTable, SharedConnectionModel, utcnow

DELETING = "deleting"
DELETED = "deleted"
# The app client's ID tokens live 60 minutes (core/infra.py); the entry outlives them.
KEEP_AFTER_DELETION = timedelta(hours=2)


class Revocation(SharedConnectionModel):
    class Meta(metaclass=SettingsTable):
        setting = infra.REVOCATIONS_TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    state = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
    readable = UnicodeAttribute(null=True)  # the one path still served while deleting


def revoke(user_id: str, state: str, readable: str | None = None) -> None:
    """Public: marks the user's tokens revoked (`deleting`, then `deleted`); while
    deleting, GET `readable` is still served."""
    now = utcnow()
    Revocation(
        user_id,
        state=state,
        at=now,
        expires_at=now + KEEP_AFTER_DELETION if state == DELETED else None,
        readable=readable if state == DELETING else None,
    ).save()


def _actual_path(request: Request) -> str:
    """Chalice's request.path is the route's template ("/things/{thing_id}")."""
    path = str(request.path)
    for name, value in (request.uri_params or {}).items():
        path = path.replace("{" + name + "}", str(value))
    return path


def _entry(user_id: str) -> Revocation | None:
    try:
        entry = Revocation.get(user_id, consistent_read=True)
    except DoesNotExist:
        return None
    if entry.expires_at is not None and entry.expires_at < utcnow():
        return None  # expired, TTL has not removed it yet; no token of that user is valid
    return entry


def check(request: Request, user_id: str) -> None:
    """Raises Unauthorized when the caller's account is deleted or being deleted."""
    entry = _entry(user_id)
    if entry is None:
        return
    if (
        entry.state == DELETING
        and request.method in ("GET", "HEAD")
        and _actual_path(request) == entry.readable
    ):
        return
    raise Unauthorized("The account has been deleted.")


def refuse_revoked(user_id: str) -> None:
    """For entry points other than the router (the websocket's $connect): a deleted or
    deleting user is refused outright."""
    if _entry(user_id) is not None:
        raise Unauthorized("The account has been deleted.")
