"""API Gateway: importing the Swagger 2.0 document `chalice deploy` sends.

moto (5.2) imports only OpenAPI 3 documents: `ImportRestApi` fails with a 500 (KeyError:
'description') when `info` has no description, and `PutRestApi` refuses `"swagger":
"2.0"` (InvalidOpenApiDocVersionException). Chalice creates and updates its REST API with
exactly such a document, so `chalice deploy` against moto could not get past the API.
For the parts moto reads (paths, methods, their responses and Lambda integrations) the two
versions are the same, so a Swagger 2.0 document is passed on as OpenAPI 3.0 with an
empty description. Still not imported, as before: the authorizers, and the paths' methods
of "/" (moto would add a nameless child). docs/local-stack.md has the upstream report.
"""

from __future__ import annotations

import functools
from typing import Any


def _as_openapi3(api_doc: dict[str, Any]) -> dict[str, Any]:
    if api_doc.get("swagger") is None:
        return api_doc
    converted = {key: value for key, value in api_doc.items() if key != "swagger"}
    converted["openapi"] = "3.0.1"
    converted["info"] = {"description": "", **(api_doc.get("info") or {})}
    converted["paths"] = {p: m for p, m in (api_doc.get("paths") or {}).items() if p != "/"}
    return converted


def apply() -> None:
    from moto.apigateway.models import APIGatewayBackend

    original_import = APIGatewayBackend.import_rest_api
    original_put = APIGatewayBackend.put_rest_api

    @functools.wraps(original_import)
    def import_rest_api(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        return original_import(self, _as_openapi3(api_doc), fail_on_warnings)

    @functools.wraps(original_put)
    def put_rest_api(
        self: Any, function_id: str, api_doc: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        return original_put(self, function_id, _as_openapi3(api_doc), *args, **kw)

    APIGatewayBackend.import_rest_api = import_rest_api  # type: ignore[method-assign]
    APIGatewayBackend.put_rest_api = put_rest_api  # type: ignore[method-assign]
