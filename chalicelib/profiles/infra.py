"""What the Profiles service owns: the profile table, read and written only by its
gatekeeper function, and the append-only audit trail of every access (core.registry).

The router never touches either table: it invokes the gatekeeper synchronously
(RequestResponse) with `lambda:InvokeFunction` on that one function.
"""

from __future__ import annotations

from chalicelib.core.registry import Declaration, Function, Setting
from chalicelib.core.resources import table

GATEKEEPER = "profile_gatekeeper"  # the function's name, as Chalice and the packaging know it
# Chalice's logical id of the function (to_cfn_resource_name of its name).
GATEKEEPER_LOGICAL_ID = "ProfileGatekeeper"

TABLE = Setting("TANDEM_PROFILES_TABLE", ref="ProfilesTable")
AUDIT_TABLE = Setting("TANDEM_PROFILE_AUDIT_TABLE", ref="ProfileAuditTable")
# What the router and the jobs' workers invoke: the deployed function's name (a Ref); the
# local stack sets it to the function's name in the app (devstack/lambda_api.py).
GATEKEEPER_FUNCTION = Setting("TANDEM_PROFILE_GATEKEEPER", chalice_ref=GATEKEEPER_LOGICAL_ID)

DECLARATION = Declaration(
    name="profiles",
    resources={
        # One item per user: the profile. No stream: nothing else may learn its contents.
        "ProfilesTable": table("profiles", ("userId", None)),
        # Append-only: one item per access, keyed by the subject and a ULID (time order).
        # No TTL attribute is ever written, so nothing expires it; only PutItem (with a
        # does-not-exist condition) and Query are granted to anyone.
        "ProfileAuditTable": table("profile-audit", ("userId", "auditId")),
    },
    functions={
        GATEKEEPER: Function(
            timeout=10,
            allow={
                "ProfilesTable": (
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                ),
                # Appends only: PutItem under a condition that the key is new.
                "ProfileAuditTable": ("dynamodb:PutItem",),
            },
        ),
    },
    router={GATEKEEPER_LOGICAL_ID: ("lambda:InvokeFunction",)},
    settings=(TABLE, AUDIT_TABLE, GATEKEEPER_FUNCTION),
)
