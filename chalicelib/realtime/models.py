from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.core.models import SettingsTable, SharedConnectionModel

from .infra import CONNECTIONS_TABLE


class ConnectionsById(GlobalSecondaryIndex["Connection"]):  # type: ignore[no-untyped-call]
    """The owner of a connection id: API Gateway's $disconnect names only the connection."""

    class Meta:
        index_name = "byConnection"
        projection = KeysOnlyProjection()

    connection_id = UnicodeAttribute(hash_key=True, attr_name="connectionId")


class Connection(SharedConnectionModel):
    """One open websocket of a user. TTL removes it if its $disconnect never arrives."""

    class Meta(metaclass=SettingsTable):
        setting = CONNECTIONS_TABLE

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    connection_id = UnicodeAttribute(range_key=True, attr_name="connectionId")
    connected_at = UTCDateTimeAttribute(attr_name="connectedAt")
    expires_at = TTLAttribute(attr_name="expiresAt")

    by_connection = ConnectionsById()
