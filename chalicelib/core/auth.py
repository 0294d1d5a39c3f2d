"""The Cognito user-pool authorizer every route but the public ones uses."""

from __future__ import annotations

import os

from .identity import user_pool_authorizer

# Chalice needs the pool ARN when routes are declared, so this is the one setting read at
# import. Packaging points it at the template's own user pool (deploy/functions.py).
USER_POOL_ARN_ENV = "TANDEM_USER_POOL_ARN"
USER_POOL_ARN = os.environ.get(
    USER_POOL_ARN_ENV,
    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_tandem",
)

AUTHORIZER = user_pool_authorizer([USER_POOL_ARN])
