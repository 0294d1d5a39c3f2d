"""Lambda's Invoke API for the local stack: a synchronous (RequestResponse) invoke of one
of the app's plain Lambda functions (`@app.lambda_function`), with the event serialized to
JSON and back exactly as Lambda does, so the caller and the function meet at the same
boundary as deployed (moto's Lambda needs Docker to run a function).

The admin endpoint serves the API's path (`POST /2015-03-31/functions/<name>/invocations`)
and the app's `aws.lambda` client reaches it: the local stage sets AWS_ENDPOINT_URL_LAMBDA
to the admin endpoint, and every setting that names such a function (`chalice_ref` of its
logical id) to the function's name. The app's code is the same in every stage.
`InProcessLambda` is the same boundary without HTTP, for tests that run the app in-process.
"""

from __future__ import annotations

import io
import json
import os
import traceback
from collections.abc import Callable
from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.core import registry

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"
ENDPOINT_ENV = "AWS_ENDPOINT_URL_LAMBDA"

Invoke = Callable[[str, dict[str, Any]], Any]


class UnknownFunction(LookupError):
    """No plain Lambda function of the app has this name (Lambda's 404)."""


def function_names(app: Any, stack_name: str) -> dict[str, str]:
    """What a caller may name a plain function by -> its handler: its own name and the
    deployed `<stack>-<name>` (the packaging's FunctionName)."""
    names: dict[str, str] = {}
    for function in app.pure_lambda_functions:
        names[function.name] = function.name
        names[f"{stack_name}-{function.name}"] = function.name
    return names


def function_settings(app: Any) -> dict[str, str]:
    """Env var -> function name, for every setting that names a plain function of the app
    (deployed it is the function's Ref: its name)."""
    by_logical_id = {to_cfn_resource_name(f.name): f.name for f in app.pure_lambda_functions}
    return {
        setting.env: by_logical_id[setting.chalice_ref]
        for setting in registry.settings()
        if setting.chalice_ref in by_logical_id
    }


def configure(app: Any, endpoint: str) -> None:
    """Points the app's Lambda client (built lazily, after this) at `endpoint`."""
    os.environ[ENDPOINT_ENV] = endpoint
    os.environ.update(function_settings(app))


def run(invoke: Invoke, names: dict[str, str], function: str, payload: bytes) -> tuple[bytes, bool]:
    """Runs `function` with the JSON `payload`: (the JSON answer, whether it raised). A
    raised exception is Lambda's FunctionError "Unhandled" with its errorMessage."""
    handler = names.get(function)
    if handler is None:
        raise UnknownFunction(function)
    event = json.loads(payload or b"{}")
    try:
        result = invoke(handler, event)
    except Exception as error:
        answer = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        return json.dumps(answer).encode(), True
    return json.dumps(result).encode(), False


class InProcessLambda:
    """The `invoke` of a boto3 Lambda client, answered by the app in this process; what
    tests put in place of `aws.lambda` (core.wiring.override)."""

    def __init__(self, app: Any, invoke: Invoke, stack_name: str = "tandem") -> None:
        self._names = function_names(app, stack_name)
        self._invoke = invoke
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(
        self, *, FunctionName: str, Payload: bytes, InvocationType: str = "RequestResponse"
    ) -> dict[str, Any]:
        if InvocationType != "RequestResponse":
            raise ValueError("only synchronous invokes are served in-process")
        self.calls.append((FunctionName, json.loads(Payload)))
        try:
            body, failed = run(self._invoke, self._names, FunctionName, Payload)
        except UnknownFunction:
            raise LookupError(f"Function not found: {FunctionName}") from None
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(body)}
        if failed:
            response["FunctionError"] = "Unhandled"
        return response
