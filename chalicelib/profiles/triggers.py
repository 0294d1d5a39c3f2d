"""The gatekeeper's own Lambda function (declared in infra.py), invoked synchronously."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from . import gatekeeper
from .infra import GATEKEEPER

bp = Blueprint(__name__)


@bp.lambda_function(name=GATEKEEPER)
def profile_gatekeeper(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return gatekeeper.handle(event)
