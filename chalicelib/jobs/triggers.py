"""Jobs triggers: the manager, on the job queue (its function is declared in infra.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, SQSEvent

from chalicelib.realtime import service as realtime

from . import manager
from .infra import DECLARATION
from .models import Job

bp = Blueprint(__name__)


@bp.on_sqs_message(**DECLARATION.queue_trigger("run_jobs"))
def run_jobs(event: SQSEvent) -> dict[str, Any]:
    """One job message: claim, dispatch to its worker, record and push the outcome."""
    context: Any = event.context

    def notify(job: Job) -> None:
        message = {"type": "changed", "resource": "job", "id": job.job_id, "version": job.version}

        def send(connection_id: str, body: str) -> None:
            realtime.websocket_api(bp.current_app).send(connection_id, body)

        realtime.push(job.user_id, message, send)

    return manager.run_jobs(
        event.to_dict(), lambda: context.get_remaining_time_in_millis() / 1000, notify
    )
