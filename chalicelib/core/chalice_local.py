"""`chalice local` never serves this app unverified.

chalice's local server decodes Cognito tokens without verifying them (docs/decisions.md). Served
by it in stage dev or prod, the app would take an unsigned `alg: none` token as any
user, and its SDK would reach whatever AWS account the shell has. So app.py calls
`guard()` once, and when the app is being loaded by `chalice local` the local stack
decides (devstack.chalice_local): in the local stage it points the app at the running
stack (`.tandem/local.json`), whose pool the local stage's token check then verifies
against, as under `make run`; in any other stage, or with no stack running, it refuses
to start with one line that says what to run instead.

When chalice's CLI loads the app to package or deploy it, deploy.chalice_cli checks that
the stage's ARNs are real (and for a deploy: credentials, region, the data stack).
Everywhere else (Lambda, `make run`, the tests) `guard()` costs one environment lookup:
chalice's CLI sets AWS_CHALICE_CLI_MODE, nothing else does.
"""

from __future__ import annotations

import os
import sys
from types import FrameType

from .local_auth import LAMBDA_RUNTIME_ENV


def guard() -> None:
    if os.environ.get("AWS_CHALICE_CLI_MODE") != "true":
        return
    if any(os.environ.get(name) for name in LAMBDA_RUNTIME_ENV):
        return
    if not _loaded_to_serve():
        # Packaging or deploying from the project's checkout: the stage must be real.
        from deploy.chalice_cli import check_cli

        check_cli()
        return
    # Only the project's own checkout runs `chalice local`; devstack is never packaged.
    from devstack.chalice_local import serve_local_stage_only

    serve_local_stage_only()


def _loaded_to_serve() -> bool:
    """Whether chalice's CLI loads the app for its local server (and not, e.g., to package
    it). It loads the app lazily inside chalice.cli.create_local_server, in the server's
    thread when it autoreloads, so the call stack is the one reliable sign."""
    import chalice.cli  # already imported: this process is chalice's CLI

    target = chalice.cli.create_local_server.__code__
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is target:
            return True
        frame = frame.f_back
    return False
