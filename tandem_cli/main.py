"""The `tandem` command: users, seed data, dead-letter queues, the live event stream and
the schedules of a Tandem stack, local (`make run`) or a deployed stage.

Every failure is one line on stderr and exit status 1 (TANDEM_DEBUG=1 shows the trace).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from .target import CliError, Target, target

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PASSWORD = "Tandem-local-1"  # devstack.users.DEFAULT_PASSWORD: local only

app = typer.Typer(
    name="tandem",
    help=__doc__.split("\n\n")[0] if __doc__ else None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
users_app = typer.Typer(help="Users of the stack's user pool.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead-letter queues: depth, peek, redrive.", no_args_is_help=True)
events_app = typer.Typer(help="The live event stream.", no_args_is_help=True)
schedules_app = typer.Typer(help="Scheduled functions.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(schedules_app, name="schedules")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Options:
    stage: str = "local"
    stack: str | None = None
    region: str | None = None
    state_dir: Path = ROOT / ".tandem"

    def target(self) -> Target:
        return target(self.stage, self.stack, self.region, self.state_dir)


OPTIONS = Options()


@app.callback()
def _options(
    stage: Annotated[
        str, typer.Option(envvar="TANDEM_STAGE", help="local (make run), or a deployed stage")
    ] = "local",
    stack: Annotated[
        str | None, typer.Option(help="the CloudFormation stack (default tandem-STAGE)")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: AWS_REGION)")] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(envvar="TANDEM_STATE_DIR", help="the local stack's state (default .tandem/)"),
    ] = None,
) -> None:
    """Operate a Tandem stack: local (make run) or deployed (--stage dev|prod, with your
    AWS credentials)."""
    OPTIONS.stage, OPTIONS.stack, OPTIONS.region = stage, stack, region
    OPTIONS.state_dir = state_dir or ROOT / ".tandem"


def _password(password: str | None) -> str:
    if password:
        return password
    if os.environ.get("TANDEM_PASSWORD"):
        return os.environ["TANDEM_PASSWORD"]
    if OPTIONS.stage == "local":
        return LOCAL_PASSWORD
    value: str = typer.prompt("Password", hide_input=True)
    return value


def _table(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    out.print(table)


PasswordOption = Annotated[
    str | None,
    typer.Option(help="default: $TANDEM_PASSWORD; locally the local-only default; else asked for"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table")]


# ---- users -----------------------------------------------------------------------------


@users_app.command("create")
def users_create(email: str, password: PasswordOption = None) -> None:
    """A confirmed user with a permanent password (no email is sent)."""
    from . import users

    user = users.create(OPTIONS.target(), email, _password(password))
    out.print(f"created {user['email']} sub={user['sub']}")


@users_app.command("list")
def users_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 200, as_json: JsonOption = False
) -> None:
    """The pool's users."""
    from . import users

    rows = users.listing(OPTIONS.target(), limit)
    _table(rows, ["email", "sub", "status", "enabled", "created"], as_json)


@users_app.command("disable")
def users_disable(email: str) -> None:
    """Refuse the user's sign-ins and refresh tokens from now on."""
    from . import users

    users.set_enabled(OPTIONS.target(), email, enabled=False)
    out.print(f"disabled {email} and signed it out everywhere (ID tokens expire within 60 min)")


@users_app.command("enable")
def users_enable(email: str) -> None:
    """Let a disabled user sign in again."""
    from . import users

    users.set_enabled(OPTIONS.target(), email, enabled=True)
    out.print(f"enabled {email}")


@users_app.command("delete")
def users_delete(
    email: str,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="until the deletion is done")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="seconds --wait waits")] = 600,
) -> None:
    """Delete the user's account and all their data, as DELETE /me does (a job: every
    service deletes the user's data, then the sign-in goes)."""
    from . import users

    if not yes and not typer.confirm(f"Delete {email} and all their data from {OPTIONS.stage}?"):
        raise CliError("not deleted")
    stack = OPTIONS.target()
    job = users.delete(stack, email)
    out.print(
        f"deleting {email} (sub={job['sub']}): job {job['jobId']} {job['status']}; "
        "their tokens are refused from now on"
    )
    if wait:
        outcome = users.wait_for_job(stack, job["token"], job["jobId"], timeout)
        if outcome == "failed":
            raise CliError(f"the deletion job {job['jobId']} failed: see `tandem dlq list`")
        out.print(f"deleted {email}")


@users_app.command("token")
def users_token(email: str, password: PasswordOption = None) -> None:
    """Print the user's ID token (for curl: TOKEN=$(tandem users token EMAIL))."""
    from . import users

    print(users.token(OPTIONS.target(), email, _password(password)))


# ---- seed ------------------------------------------------------------------------------


@app.command("seed")
def seed_command(
    user: Annotated[str, typer.Option(help="the user to write as (created locally if new)")],
    projects: Annotated[int, typer.Option(min=1, max=1000)] = 5,
    tasks: Annotated[int, typer.Option(min=0, max=1000, help="per project")] = 20,
    notes: Annotated[int, typer.Option(min=0, max=1000, help="per project")] = 10,
    seed: Annotated[int, typer.Option(help="same seed, same data")] = 1,
    workers: Annotated[int, typer.Option(min=1, max=16, help="projects at once")] = 4,
    password: PasswordOption = None,
) -> None:
    """Write N projects with their tasks and notes through the API."""
    from . import seed as seeding
    from . import users

    stack = OPTIONS.target()
    secret = _password(password)
    if OPTIONS.stage == "local":
        try:
            users.get(stack, user)
        except CliError:
            users.create(stack, user, secret)
    token = users.token(stack, user, secret)
    total = projects * (1 + tasks + notes)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        bar = progress.add_task("seeding", total=total)
        counts = seeding.seed(
            stack.api_url,
            token,
            projects,
            tasks,
            notes,
            seed,
            workers,
            lambda n: progress.advance(bar, n),
        )
    out.print(
        f"seeded {user}: {counts['projects']} projects, {counts['tasks']} tasks, "
        f"{counts['notes']} notes"
    )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- dead-letter queues ----------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(as_json: JsonOption = False) -> None:
    """Every dead-letter queue, what it takes the failures of, and its depth."""
    from . import dlq

    _table(dlq.depths(OPTIONS.target()), ["dlq", "failuresOf", "visible", "inFlight"], as_json)


@dlq_app.command("peek")
def dlq_peek(
    name: Annotated[str, typer.Argument(help="logical id or queue name, e.g. tasks-publisher-dlq")],
    count: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: JsonOption = False,
) -> None:
    """Messages and why they failed, left in the queue."""
    from . import dlq

    rows = dlq.peek(OPTIONS.target(), name, count)
    if not as_json:
        rows = [{**row, "reason": _short(row["reason"])} for row in rows]
    if not rows and not as_json:
        out.print(f"{name} is empty")
        return
    _table(rows, ["messageId", "sentAt", "receives", "eventType", "reason"], as_json)


@dlq_app.command("redrive")
def dlq_redrive(name: str) -> None:
    """Send the messages back to where they failed (after the fix is deployed)."""
    from . import dlq

    out.print(dlq.redrive(OPTIONS.target(), name))


# ---- events ----------------------------------------------------------------------------


@events_app.command("tail")
def events_tail(
    type_prefix: Annotated[
        str | None, typer.Option("--type", help="only event types starting so, e.g. task-")
    ] = None,
    count: Annotated[int | None, typer.Option(min=1, help="stop after so many")] = None,
    seconds: Annotated[float | None, typer.Option(min=0.1, help="stop after so long")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="each envelope as JSON")] = False,
) -> None:
    """Print events as they are published (Ctrl-C stops; the tail's queue is removed)."""
    from . import events

    def ready(topics: list[str]) -> None:
        err.print(f"tailing {', '.join(topics)} (Ctrl-C stops)")

    def show(envelope: dict[str, Any]) -> None:
        text = json.dumps(envelope, sort_keys=True) if as_json else events.line(envelope)
        print(text, flush=True)

    events.tail(OPTIONS.target(), show, type_prefix, count, seconds, ready)


# ---- schedules -------------------------------------------------------------------------


def _schedules() -> dict[str, str]:
    """Scheduled function -> its expression, from the app's own declarations."""
    from chalice.app import ScheduledEventConfig

    from app import app as chalice_app

    found = {}
    for source in chalice_app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            found[source.name] = text
    return found


@schedules_app.command("list")
def schedules_list(as_json: JsonOption = False) -> None:
    """The scheduled functions and their schedules."""
    rows = [{"function": f, "schedule": s} for f, s in sorted(_schedules().items())]
    if not rows and not as_json:
        out.print("the app has no scheduled functions")
        return
    _table(rows, ["function", "schedule"], as_json)


@schedules_app.command("run")
def schedules_run(function: str) -> None:
    """Run a scheduled function now, with EventBridge's event."""
    known = _schedules()
    if function not in known:
        raise CliError(f"no scheduled function {function!r}; known: {', '.join(known) or 'none'}")
    result = OPTIONS.target().invoke(function, None)
    out.print_json(json.dumps(result, default=str))


# ---- errors ----------------------------------------------------------------------------


def describe(error: BaseException) -> str:
    """One line that says what went wrong."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(error, CliError):
        return str(error)
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        message = " ".join(str(info.get("Message") or "").split())[:300]
        return f"{error.operation_name}: {info.get('Code')}: {message}"
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE or run `aws configure`"
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_REGION or pass --region"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'AWS')}: is the stack running?"
    if isinstance(error, BotoCoreError):
        return str(error)
    return f"{type(error).__name__}: {error}".splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    try:
        result = app(args=argv, prog_name="tandem", standalone_mode=False)
    except typer.Exit as stop:
        return int(stop.exit_code)
    except typer.exceptions.TyperException as error:  # usage errors: click's own message
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            print(f"tandem: {error.format_message()}", file=sys.stderr, flush=True)
        return int(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        return 130
    except Exception as error:
        if os.environ.get("TANDEM_DEBUG"):
            raise
        print(f"tandem: {describe(error)}", file=sys.stderr, flush=True)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """The `tandem` console script."""
    sys.exit(main())
