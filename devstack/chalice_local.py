"""What `chalice local` may serve: the local stage, against the running local stack.

Called by chalicelib.core.chalice_local when chalice's local server loads the app. In
the local stage it reads the running stack's contract file, points the app's SDK at the
embedded AWS with local-only credentials, and configures the local stage's token check
(core.local_auth) with the stack's pool, exactly as `make run` does. Anything else ends
the process with one line on stderr: an exception would only kill chalice's server
thread (it loads the app in one when it autoreloads) and leave a process that never
serves.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from typing import NoReturn

from chalicelib.core.local_auth import CLIENT_ID_ENV, ISSUER_ENV, JWKS_URL_ENV

from .aws import point_sdk_at
from .stack import LOCAL_JSON, STAGE, StackError, state_dir
from .users import read_contract

JWKS_TIMEOUT_SECONDS = 2.0


def refuse(reason: str) -> NoReturn:
    sys.stderr.write(f"chalice local: {reason}\n")
    sys.stderr.flush()
    os._exit(2)


def serve_local_stage_only() -> None:
    stage = os.environ.get("TANDEM_STAGE", "dev")
    if stage != STAGE:
        refuse(
            f"refusing to serve stage {stage!r}: nothing would verify its tokens locally "
            "(chalice local decodes them unverified). Run `make run`, or run "
            "`chalice local --stage local` while `make run` runs."
        )
    try:
        contract = read_contract(state_dir() / LOCAL_JSON)
    except StackError as error:
        refuse(f"refusing to start: {error}")
    endpoint, region, pool_id = contract["awsEndpoint"], contract["region"], contract["userPoolId"]
    # As devstack.api gives the app under `make run`: moto serves the JWKS, AWS's `iss`.
    auth = {
        JWKS_URL_ENV: f"{endpoint}/{pool_id}/.well-known/jwks.json",
        ISSUER_ENV: f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        CLIENT_ID_ENV: contract["userPoolClientId"],
    }
    try:
        with urllib.request.urlopen(auth[JWKS_URL_ENV], timeout=JWKS_TIMEOUT_SECONDS) as answer:
            answer.read()
    except OSError:
        refuse(f"refusing to start: no local stack answers at {endpoint}: start it (make run)")
    point_sdk_at(endpoint, region)
    os.environ.update(auth)
    print(
        f"chalice local: stage local, against the running stack at {endpoint}; "
        f"tokens are verified against its pool {pool_id}",
        flush=True,
    )
