"""What a stream or queue handler answers Lambda when records of its batch failed.

With ReportBatchItemFailures on its event source mapping, Lambda reads
`batchItemFailures` and retries only those records (a stream: from the first of them).
Without it, Lambda ignores the answer and counts the whole batch as a success: a queue
deletes every message, a stream moves past every record. So unless the setting says the
mapping reports them (core/infra.py BATCH_ITEM_FAILURES), a failure raises, and Lambda
retries the whole batch; the handlers are idempotent, so redoing the records that had
succeeded is safe.
"""

from __future__ import annotations

from typing import Any

from . import infra


class BatchFailed(Exception):
    """Records of the batch failed and the mapping cannot be told which: retry it all."""


def reports_batch_item_failures() -> bool:
    return infra.BATCH_ITEM_FAILURES.value() == "true"


def batch_response(failed: list[str], size: int) -> dict[str, Any]:
    """Lambda's answer for a batch of `size` records, of which `failed` (their ids) failed."""
    if failed and not reports_batch_item_failures():
        raise BatchFailed(
            f"{len(failed)} of {size} records failed; without ReportBatchItemFailures on the "
            "mapping the whole batch is retried"
        )
    return {"batchItemFailures": [{"itemIdentifier": item} for item in failed]}
