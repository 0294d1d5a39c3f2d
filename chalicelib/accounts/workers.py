"""The Account service's workers, registered with the task manager (chalicelib.jobs)."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.jobs.workers import Presenter, Worker

from .deletion import delete_user_step
from .export import export_step, present

SERVICE = "accounts"
EXPORT = "export"
DELETE_USER = "delete-user"
EXPORT_TYPE = "export"
DELETION_TYPE = "account-deletion"

WORKERS: Mapping[tuple[str, str], Worker] = {
    (SERVICE, EXPORT): export_step,
    (SERVICE, DELETE_USER): delete_user_step,
}
PRESENTERS: Mapping[str, Presenter] = {EXPORT_TYPE: present}
