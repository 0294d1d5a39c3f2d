"""The embedded AWS: a moto server on 127.0.0.1, provisioned from infra/.

This is what moto's ThreadedMotoServer does, except that the socket is bound here, in the
caller's thread: ThreadedMotoServer binds inside its thread and waits for it forever when
the port is busy (and werkzeug exits the process); here a busy port is an immediate,
readable error.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from .infra import Context, provision
from .stack import BackgroundServer, Stack, StackError

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Anything that would send the SDK somewhere else, or sign as someone real.
_CLEARED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_CLEARED_PREFIXES = ("AWS_ENDPOINT_URL_", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def point_sdk_at(endpoint: str, region: str, env: Any = os.environ) -> None:
    """Points boto3 (and PynamoDB, which uses botocore) of this process at `endpoint`.

    Must happen before the first client is created (FACTS.md).
    """
    for name in list(env):
        if name in _CLEARED_ENV or name.startswith(_CLEARED_PREFIXES):
            del env[name]
    env["AWS_ENDPOINT_URL"] = endpoint
    env["AWS_DEFAULT_REGION"] = region
    env["AWS_REGION"] = region
    env.update(DUMMY_CREDENTIALS)


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        raise StackError(
            f"cannot listen on {host}:{port} for the embedded AWS ({error.strerror}); "
            "set TANDEM_AWS_PORT to a free port"
        ) from None
    return listener


class EmbeddedAws:
    name = "aws"

    def __init__(self) -> None:
        self._server: Any = None
        self._served: BackgroundServer | None = None

    def start(self, stack: Stack) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from . import moto_fixes

        moto_fixes.apply()
        # One line per AWS call would drown the app's own request log.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        listener = _listen(stack.host, stack.ports.aws)
        try:
            self._server = make_server(
                stack.host,
                stack.ports.aws,
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=listener.fileno(),  # werkzeug exits the process on a bind error
            )
        finally:
            listener.close()  # the server holds its own duplicate of the socket
        self._served = BackgroundServer(self._server, "embedded-aws")
        stack.aws_endpoint = f"http://{stack.host}:{stack.ports.aws}"
        point_sdk_at(stack.aws_endpoint, stack.region)

        import boto3

        stack.session = boto3.Session(region_name=stack.region)
        stack.infra = provision(
            stack.session, Context(stack_name=stack.stack_name, region=stack.region)
        )
        names = stack.infra.names
        stack.summary.append(("User pool", f"{names['UserPool']} client {names['UserPoolClient']}"))

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
