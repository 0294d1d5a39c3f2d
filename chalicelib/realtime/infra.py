"""What the realtime service owns: the websocket's connections, the push queue (fed by the
Sync service once a change is in the change log) and its functions (core.registry)."""

from __future__ import annotations

from chalicelib.accounts import erasure
from chalicelib.core.registry import Declaration, Function, Setting, Trigger
from chalicelib.core.resources import queue, table

CONNECTIONS_TABLE = Setting("TANDEM_CONNECTIONS_TABLE", ref="ConnectionsTable")
PUSH_DLQ_URL = Setting("TANDEM_REALTIME_DLQ_URL", ref="RealtimePushDLQ")
# The websocket API Chalice generates: its id lets a handler that is not a websocket
# handler (the push) post to connections; its stage comes with it.
WEBSOCKET_API_ID = Setting("TANDEM_WEBSOCKET_API_ID", chalice_ref="WebsocketAPI")
WEBSOCKET_STAGE = Setting("TANDEM_WEBSOCKET_STAGE", chalice_stage_of="WebsocketAPI")
# API Gateway closes a websocket after 2 h at most; a connection whose $disconnect never
# arrived is stale after that, and TTL removes it.
CONNECTION_TTL = Setting("TANDEM_CONNECTION_TTL_SECONDS", default=str(2 * 3600 + 600))

_POST = ("execute-api:ManageConnections",)

# Its share of an account's deletion: the user's items, erased on user-deleted.
USER_ERASURE = erasure.declare("realtime", "Realtime", ["ConnectionsTable"])

DECLARATION = Declaration(
    name="realtime",
    resources={
        **USER_ERASURE.resources,
        # One item per open websocket, owner first (a push reads the owner's partition).
        # $disconnect names only the connection, so byConnection finds its owner. TTL
        # removes a connection whose $disconnect never came. Ephemeral: no backups.
        "ConnectionsTable": table(
            "connections",
            ("userId", "connectionId"),
            indexes={"byConnection": (("connectionId", None), "KEYS_ONLY")},
            backups=False,
            retain=False,
        ),
        # Project, task and note changes -> the owner's websockets. The Sync service
        # sends each change here once it is in the change log, so a push never tells a
        # device to sync before the change can be synced (docs/sync.md). Visibility is 6x
        # the consumer's timeout (push_changes, 30 s).
        "RealtimePushDLQ": queue("realtime-push-dlq"),
        "RealtimePushQueue": queue(
            "realtime-push",
            visibility=180,
            # A change pushed an hour late is noise: the client has synced by then.
            retention=3600,
            dead_letters="RealtimePushDLQ",
        ),
    },
    functions={
        **USER_ERASURE.functions,
        # The websocket's functions, as Chalice names them.
        "websocket_connect": Function(
            timeout=10,
            allow={
                "ConnectionsTable": ("dynamodb:PutItem",),
                # A deleted user's token is refused (core.revocation).
                "RevocationsTable": ("dynamodb:GetItem",),
            },
        ),
        "websocket_disconnect": Function(
            timeout=10,
            allow={
                # $disconnect names only the connection: its owner comes from the index.
                "ConnectionsTable/index/byConnection": ("dynamodb:Query",),
                "ConnectionsTable": ("dynamodb:DeleteItem",),
            },
        ),
        # The reply to a ping is posted back to the connection.
        "websocket_message": Function(timeout=10, allow={"WebsocketAPI/connections": _POST}),
        "push_changes": Function(
            timeout=30,
            trigger=Trigger("TANDEM_REALTIME_QUEUE_ARN", "RealtimePushQueue", "Arn"),
            batch_size=10,
            allow={
                # The owner's connections; one that API Gateway reports gone is deleted.
                "ConnectionsTable": ("dynamodb:DeleteItem", "dynamodb:Query"),
                "WebsocketAPI/connections": _POST,
                "RealtimePushDLQ": ("sqs:SendMessage",),
            },
        ),
    },
    settings=(
        CONNECTIONS_TABLE,
        PUSH_DLQ_URL,
        WEBSOCKET_API_ID,
        WEBSOCKET_STAGE,
        CONNECTION_TTL,
        *USER_ERASURE.settings,
    ),
)
