"""What belongs to no service: the router's function, its idempotency records, the user
pool that signs users in, and the attachments bucket. See core.registry."""

from __future__ import annotations

from .registry import ROUTER, Declaration, Function, Setting
from .resources import bucket, ref, stack_sub, table

IDEMPOTENCY_TABLE = Setting("TANDEM_IDEMPOTENCY_TABLE", ref="IdempotencyTable")
REVOCATIONS_TABLE = Setting("TANDEM_REVOCATIONS_TABLE", ref="RevocationsTable")
# Token checks outside API Gateway (the local stage, the websocket's $connect) and the
# `aud` check need the pool's id and the app client's.
USER_POOL_ID = Setting("TANDEM_USER_POOL_ID", ref="UserPool")
USER_POOL_CLIENT_ID = Setting("TANDEM_USER_POOL_CLIENT_ID", ref="UserPoolClient")
# The largest legal body, a note at every limit sent as \uXXXX escapes (12 bytes per
# astral character), is about 1.22 MB; see docs/decisions.md.
BODY_CAP = 1280 * 1024
MAX_BODY_BYTES = Setting("TANDEM_MAX_BODY_BYTES", default=str(BODY_CAP))
TOMBSTONE_DAYS = Setting("TANDEM_TOMBSTONE_DAYS", default="30")
IDEMPOTENCY_HOURS = Setting("TANDEM_IDEMPOTENCY_HOURS", default="24")
# Origins a browser build may call the API from, per stage (comma-separated, or *). None
# by default: a browser gets no CORS answer.
CORS_ALLOWED_ORIGINS = Setting("TANDEM_CORS_ALLOWED_ORIGINS")
# "true" only where the function's event source mapping has ReportBatchItemFailures
# (set with the mapping: deploy/merge.py, deploy/stage.py, the local stack's pump).
# Without it a consumer or publisher fails the whole batch instead of answering
# batchItemFailures, which a mapping without the option would ignore, deleting or
# skipping the failed records as if they had succeeded.
BATCH_ITEM_FAILURES = Setting("TANDEM_BATCH_ITEM_FAILURES")

DECLARATION = Declaration(
    name="core",
    resources={
        # Idempotency-Key records of the API (the router's); TTL removes them after 24 h+.
        "IdempotencyTable": table("idempotency", ("key", None), backups=False, retain=False),
        # Users whose tokens no longer count: deleted users (core.revocation).
        "RevocationsTable": table("revocations", ("userId", None), backups=False),
        # ---- Files: attachments, uploaded and read with presigned URLs only -------------
        # Private and encrypted; the account id keeps the name globally unique.
        "AttachmentsBucket": bucket(
            "attachments",
            [
                {
                    "Id": "abort-incomplete-uploads",
                    "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ],
        ),
        # ---- Identity: the user pool and the mobile app's client ------------------------
        # Email is the username; self sign-up is allowed (the app signs users up). The
        # client has no secret (a mobile app cannot keep one). moto's CloudFormation cannot
        # create these, so devstack/infra.py translates them into Cognito API calls.
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "UserPoolName": stack_sub("users"),
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "UsernameConfiguration": {"CaseSensitive": False},
                "Schema": [
                    {
                        "Name": "email",
                        "AttributeDataType": "String",
                        "Required": True,
                        "Mutable": True,
                    }
                ],
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": False,
                        "TemporaryPasswordValidityDays": 7,
                    }
                },
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
                "AccountRecoverySetting": {
                    "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
                },
                "MfaConfiguration": "OFF",
            },
        },
        "UserPoolClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "ClientName": stack_sub("mobile"),
                "UserPoolId": ref("UserPool"),
                "GenerateSecret": False,
                "ExplicitAuthFlows": [
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                ],
                "PreventUserExistenceErrors": "ENABLED",
                "EnableTokenRevocation": True,
                "AccessTokenValidity": 60,
                "IdTokenValidity": 60,
                "RefreshTokenValidity": 30,
                "TokenValidityUnits": {
                    "AccessToken": "minutes",
                    "IdToken": "minutes",
                    "RefreshToken": "days",
                },
            },
        },
    },
    functions={
        # API Gateway gives up on an integration after 29 s. Users wait on its cold start:
        # 1,024 MB is 0.6 vCPU, a cold start of about 0.5 s (docs/benchmarks.md, "Cold start
        # of the package"; 128 MB would be about 4 s).
        ROUTER: Function(timeout=29, memory=1024),
    },
    router={
        "IdempotencyTable": ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"),
        # Every request asks it; DELETE /me writes it.
        "RevocationsTable": ("dynamodb:GetItem", "dynamodb:PutItem"),
    },
    settings=(
        IDEMPOTENCY_TABLE,
        REVOCATIONS_TABLE,
        USER_POOL_ID,
        USER_POOL_CLIENT_ID,
        MAX_BODY_BYTES,
        TOMBSTONE_DAYS,
        IDEMPOTENCY_HOURS,
        CORS_ALLOWED_ORIGINS,
        BATCH_ITEM_FAILURES,
    ),
)
