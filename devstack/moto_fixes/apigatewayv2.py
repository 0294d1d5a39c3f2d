"""API Gateway v2: CreateDeployment, which `chalice deploy` calls for a websocket API.

moto (5.2) routes no `/v2/apis/{apiId}/deployments` (a 404 HTML page), so `chalice
deploy` of an app with websocket handlers stopped after creating the API's routes. The
deployment here is recorded nowhere: moto serves a websocket API's routes without one,
and what a deployment would freeze is not something moto's websocket API answers with.
docs/local-stack.md has the upstream report.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

_DEPLOYMENTS = "{0}/v2/apis/(?P<api_id>[^/]+)/deployments$"


def create_deployment(self: Any) -> Any:
    created = datetime.now(UTC).isoformat()
    body = {
        "deploymentId": uuid4().hex[:10],
        "deploymentStatus": "DEPLOYED",
        "createdDate": created,
        "autoDeployed": False,
    }
    return 201, {}, json.dumps(body)


def apply() -> None:
    from moto.apigatewayv2 import urls
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    ApiGatewayV2Response.create_deployment = create_deployment  # type: ignore[attr-defined]
    urls.url_paths.setdefault(_DEPLOYMENTS, ApiGatewayV2Response.dispatch)
