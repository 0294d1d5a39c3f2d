"""What the Account service owns: the exports bucket and the account topic, on which the
deletion job publishes `user-deleted` for every service to delete its own data
(core.registry). Its workers run in the jobs' manager function (chalicelib.jobs.infra
lists their grants); its routes in the router."""

from __future__ import annotations

from chalicelib.core.registry import Declaration, Setting
from chalicelib.core.resources import bucket, topic

EXPORTS_BUCKET = Setting("TANDEM_EXPORTS_BUCKET", ref="ExportsBucket")
TOPIC_ARN = Setting("TANDEM_ACCOUNT_TOPIC_ARN", ref="AccountTopic")
# How long an export's download URL works.
EXPORT_URL_SECONDS = Setting("TANDEM_EXPORT_URL_SECONDS", default="900")
# An export step stops after this many items (and when its time runs short), and the
# next step goes on from its cursor: bounded work and memory per invocation.
EXPORT_ITEMS_PER_STEP = Setting("TANDEM_EXPORT_ITEMS_PER_STEP", default="4000")
# The deletion waits this long after revoking the tokens before the services delete:
# longer than a request may run (29 s), so no write that was already admitted lands
# after its service's deletion passed.
DELETION_GRACE_SECONDS = Setting("TANDEM_DELETION_GRACE_SECONDS", default="30")
# How often the deletion job looks whether every service has reported its part done, and
# for how many looks, before it fails (and is dead-lettered for an operator).
DELETION_POLL_SECONDS = Setting("TANDEM_DELETION_POLL_SECONDS", default="5")
DELETION_MAX_POLLS = Setting("TANDEM_DELETION_MAX_POLLS", default="720")

EXPORT_PREFIX = "exports/"
EXPORT_DAYS = 1  # the lifecycle rule removes an export after this

DECLARATION = Declaration(
    name="accounts",
    emits=("user-deleted",),
    resources={
        # Private, encrypted; exports expire by lifecycle; incomplete uploads are aborted.
        "ExportsBucket": bucket(
            "exports",
            [
                {
                    "Id": "expire-exports",
                    "Status": "Enabled",
                    "Prefix": EXPORT_PREFIX,
                    "ExpirationInDays": EXPORT_DAYS,
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ],
            retain=False,
        ),
        # user-deleted: every service that keeps data of a user subscribes.
        "AccountTopic": topic("account"),
    },
    router={
        # A succeeded export's download URL is presigned by the router (GET /jobs/{id}).
        "ExportsBucket/exports/*": ("s3:GetObject",),
    },
    settings=(
        EXPORTS_BUCKET,
        TOPIC_ARN,
        EXPORT_URL_SECONDS,
        EXPORT_ITEMS_PER_STEP,
        DELETION_GRACE_SECONDS,
        DELETION_POLL_SECONDS,
        DELETION_MAX_POLLS,
    ),
)
