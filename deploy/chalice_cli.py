"""Checks before Chalice's CLI packages or deploys the app, run when it loads app.py
(chalicelib.core.chalice_local.guard calls this; deploy/ is never packaged).

Chalice reads the ARNs of the event sources and of the user pool when the app is
imported. Unset, they are placeholders, and Chalice would package a template or deploy
functions wired to streams and queues that do not exist (and leave half a deployment
behind). So `chalice package --stage S` and `chalice deploy --stage S` need the stage's
real ARNs in .chalice/config.json, which `python -m deploy.stage up --stage S` writes from
the data stack; `chalice deploy` also needs credentials, a region and that stack. Each
failure is one line on stderr and exit status 2, before anything is created.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from chalicelib.core import registry
from chalicelib.core.auth import USER_POOL_ARN_ENV

EXIT_STATUS = 2


class Refused(Exception):
    """What to do instead, in one line."""


def import_time_envs() -> list[str]:
    """The settings Chalice reads at import: the user pool's ARN, every trigger's ARN."""
    return [USER_POOL_ARN_ENV, *registry.trigger_env()]


def missing_arns(environ: Any = os.environ) -> list[str]:
    return [env for env in import_time_envs() if not environ.get(env)]


def data_stack_name(stage: str) -> str:
    return f"tandem-{stage}"


def check(command: str, stage: str, session: Any, environ: Any = os.environ) -> None:
    """Raises Refused when `chalice <command> --stage <stage>` must not go on."""
    if command not in ("package", "deploy"):
        return
    if command == "deploy":
        _check_session(stage, session)
    missing = missing_arns(environ)
    if missing:
        raise Refused(
            f"chalice {command} --stage {stage}: no real ARN for {', '.join(missing)}; "
            f"create the stage's data stack first: python -m deploy.stage up --stage {stage} "
            "(or package all in one template: make package); nothing was changed"
        )
    if command == "deploy":
        _check_data_stack(stage, session)


def _check_session(stage: str, session: Any) -> None:
    if session.get_credentials() is None:
        raise Refused(
            f"chalice deploy --stage {stage}: no AWS credentials (set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --profile); nothing was changed"
        )
    region = session.get_config_variable("region")
    if not region:
        raise Refused(
            f"chalice deploy --stage {stage}: no AWS region (set AWS_DEFAULT_REGION or the "
            "profile's region); nothing was changed"
        )


def _check_data_stack(stage: str, session: Any) -> None:
    region = session.get_config_variable("region")
    stack = data_stack_name(stage)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = session.create_client("cloudformation").describe_stacks(StackName=stack)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise Refused(
                f"chalice deploy --stage {stage}: no data stack {stack} in {region}; create "
                f"it first: python -m deploy.stage up --stage {stage}; nothing was changed"
            ) from None
        raise Refused(f"chalice deploy --stage {stage}: {message}; nothing was changed") from None
    except BotoCoreError as error:
        raise Refused(f"chalice deploy --stage {stage}: {error}; nothing was changed") from None
    status = stacks["Stacks"][0]["StackStatus"]
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise Refused(
            f"chalice deploy --stage {stage}: the data stack {stack} is {status}; "
            "nothing was changed"
        )


def check_cli() -> None:
    """From inside Chalice's CLI: the command, stage and session it is running with."""
    import click

    context = click.get_current_context(silent=True)
    if context is None or context.command is None:
        return
    stage = context.params.get("stage") or "dev"
    factory = (context.obj or {}).get("factory")
    session = factory.create_botocore_session() if factory is not None else None
    try:
        check(context.command.name or "", stage, session)
    except Refused as refused:
        print(refused, file=sys.stderr)
        raise SystemExit(EXIT_STATUS) from None
