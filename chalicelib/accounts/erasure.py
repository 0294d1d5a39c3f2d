"""What a service needs to take part in an account's deletion (docs/events.md,
`user-deleted`): its queue on the account topic, the function that erases the user's
items from its tables in bounded rounds (core.erasure), and the report of its part done
to the deletion job (jobs.service.participant_done). A service declares it in its
infra.py with `declare` and handles it in its triggers with `consumer`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.consumer import cascade_round, consume, hand_on_cascade
from chalicelib.core.erasure import Partition, erase
from chalicelib.core.events import Envelope, PoisonMessage
from chalicelib.core.log import logger
from chalicelib.core.registry import Function, Resource, Setting, Trigger
from chalicelib.core.resources import queue, queue_policy, subscription

USER_DELETED = "user-deleted"
TOPIC = "AccountTopic"
ERASURE = "erasure"  # the rounds' message attributes: erasureRound
TIMEOUT = 120
MAX_ITEMS = 5000
TIME_MARGIN = 20.0


@dataclass(frozen=True)
class Participation:
    """A service's share of account deletion, as its declaration holds it."""

    function: str
    resources: Mapping[str, Resource]
    functions: Mapping[str, Function]
    queue_url: Setting
    dead_letter_url: Setting

    @property
    def settings(self) -> tuple[Setting, ...]:
        return (self.queue_url, self.dead_letter_url)


def declare(service: str, prefix: str, tables: Sequence[str]) -> Participation:
    """`service`'s queue (and DLQ) on user-deleted and its erasing function, allowed to
    Query and BatchWriteItem `tables` (logical ids) and to report its part done."""
    queue_id, dlq_id = f"{prefix}UserDeletionsQueue", f"{prefix}UserDeletionsDLQ"
    suffix = f"{service}-user-deletions"
    env = service.upper()
    function = f"erase_{service}_of_user"
    allow: dict[str, tuple[str, ...]] = dict.fromkeys(
        tables, ("dynamodb:BatchWriteItem", "dynamodb:Query")
    )
    allow[queue_id] = ("sqs:SendMessage",)  # a round that runs out hands on
    allow[dlq_id] = ("sqs:SendMessage",)
    allow["JobsTable"] = ("dynamodb:UpdateItem",)  # jobs.service.participant_done
    return Participation(
        function=function,
        resources={
            dlq_id: queue(f"{suffix}-dlq"),
            # Visibility is 6x the function's timeout.
            queue_id: queue(suffix, visibility=6 * TIMEOUT, dead_letters=dlq_id),
            f"{prefix}UserDeletionsSubscription": subscription(TOPIC, queue_id, [USER_DELETED]),
            f"{prefix}UserDeletionsQueuePolicy": queue_policy([queue_id], [TOPIC]),
        },
        functions={
            function: Function(
                timeout=TIMEOUT,
                trigger=Trigger(f"TANDEM_{env}_USER_DELETIONS_QUEUE_ARN", queue_id, "Arn"),
                batch_size=1,
                allow=allow,
            )
        },
        queue_url=Setting(f"TANDEM_{env}_USER_DELETIONS_QUEUE_URL", ref=queue_id),
        dead_letter_url=Setting(f"TANDEM_{env}_USER_DELETIONS_DLQ_URL", ref=dlq_id),
    )


def consumer(
    service: str, participation: Participation, partitions: Sequence[Partition]
) -> Callable[[Mapping[str, Any], Callable[[], float]], dict[str, Any]]:
    """The SQS handler of the service's user-deleted queue: erase, hand on, report done."""

    def on_user_deleted(
        event: Mapping[str, Any], seconds_left: Callable[[], float]
    ) -> dict[str, Any]:
        from chalicelib.jobs import service as jobs

        def handle(envelope: Envelope, record: SQSRecord) -> None:
            if envelope.type != USER_DELETED:
                raise PoisonMessage(f"{envelope.type} does not belong on this queue")
            job_id = envelope.data.get("jobId")
            if not isinstance(job_id, str) or not job_id:
                raise PoisonMessage("user-deleted without data.jobId")
            user_id = envelope.subject.user_id
            deleted, finished = erase(
                partitions,
                user_id,
                max_items=MAX_ITEMS,
                seconds_left=seconds_left,
                time_margin=TIME_MARGIN,
            )
            logger().info(
                "user erasure round",
                extra={
                    "service": service,
                    "eventId": envelope.event_id,
                    "round": cascade_round(record, ERASURE),
                    "deleted": deleted,
                    "finished": finished,
                },
            )
            if finished:
                jobs.participant_done(user_id, job_id, service)
                return
            hand_on_cascade(
                envelope,
                record,
                participation.queue_url.value,
                ERASURE,
                finished=False,
                size=deleted,
                sweep_delay=0,
            )

        return consume(event, handle, participation.dead_letter_url.value)

    return on_user_deleted
