"""What each service owns, declared in its own folder, and the registry that collects it.

A service's `infra.py` holds one `Declaration`: its AWS resources (CloudFormation, long-form
intrinsics), its Lambda functions with their permissions and settings, its share of the
router's permissions, the settings its code reads, and the event type its table publishes.
The local stack, the packaging and the tests read every declaration through `declarations()`;
the runtime reads only its own service's, so a Lambda imports nothing of the others but the
names in this module's registry when it needs them (the envelope's sources).

This module names no service: it finds them as the packages of `chalicelib` that have an
`infra` module.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import pkgutil
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

Resource = dict[str, Any]
# Resource reference -> the actions the code performs on it (the notation is documented in
# docs/decisions.md and deploy: `Table`, `Table/index/Name`, `Table/stream`,
# `WebsocketAPI/connections`, `*`).
Allow = Mapping[str, tuple[str, ...]]

ROUTER = "api_handler"  # the Lambda function of every REST route (Chalice's name)
# The stack name the placeholder ARNs of event sources are made with (`chalice package`
# replaces them with the template's own resources; the local stack and tests set them).
PLACEHOLDER_STACK = "tandem"
_PLACEHOLDER_ARN = "arn:aws:{service}:us-east-1:123456789012:{resource}"
_PLACEHOLDER_STREAM = "table/{table}/stream/1970-01-01T00:00:00.000"


@dataclass(frozen=True)
class Setting:
    """One value the code reads from the environment, when it asks (never at import).

    Where the deployed value comes from: `ref` names a declared resource whose `Ref` it
    is (a table's name, a topic's ARN, a queue's URL); `chalice_ref` a resource Chalice
    generates; `chalice_stage_of` the stage name of an API Chalice generates. A setting with
    none of these is a tunable with its default.
    """

    env: str
    default: str = ""
    ref: str | None = None
    chalice_ref: str | None = None
    chalice_stage_of: str | None = None

    def value(self) -> str:
        raw = os.environ.get(self.env)
        return self.default if raw is None or raw == "" else raw

    def number(self) -> int:
        return int(self.value())

    def required(self) -> str:
        """The value, which must be configured (a resource's name, ARN or URL)."""
        value = self.value()
        if not value:
            raise RuntimeError(f"setting {self.env} is not configured")
        return value


@dataclass(frozen=True)
class Trigger:
    """The stream or queue a function is triggered by. Chalice needs its ARN when the
    handler is declared, at import: it is read from `env`, else a placeholder made from
    the resource's declared name."""

    env: str
    resource: str
    attribute: str  # "StreamArn" of a table, "Arn" of a queue


@dataclass(frozen=True)
class Function:
    """A Lambda function: what its own code may do, and its settings.

    `allow` lists what the code does; what the wiring implies is derived by the packaging
    (its log group, reading its trigger, sending to `on_failure`, the queue a stream
    mapping sends what it gave up on: required for a stream trigger).
    """

    allow: Allow = field(default_factory=dict)
    timeout: int | None = None  # seconds; Chalice's lambda_timeout
    memory: int | None = None  # MB; Chalice's lambda_memory_size
    concurrency: int | None = None  # Chalice's reserved_concurrency
    trigger: Trigger | None = None
    batch_size: int | None = None
    batching_window: int | None = None  # seconds an SQS batch may wait to fill
    on_failure: str | None = None


def publisher(table: str, topic: str, dead_letters: str, env: str) -> Function:
    """The trigger pattern's function: `table`'s stream -> `topic` (core.publisher), the
    only role with sns:Publish on it; a record it gives up on goes to `dead_letters`.
    `env` names the stream's ARN, which Chalice needs at import."""
    return Function(
        timeout=30,
        trigger=Trigger(env, table, "StreamArn"),
        on_failure=dead_letters,
        allow={topic: ("sns:Publish",)},
    )


@dataclass(frozen=True)
class Declaration:
    """Everything one service (or core's router) owns."""

    name: str
    resources: Mapping[str, Resource] = field(default_factory=dict)
    functions: Mapping[str, Function] = field(default_factory=dict)
    router: Allow = field(default_factory=dict)  # its share of the router's permissions
    settings: tuple[Setting, ...] = ()
    # The resource its table's changes are published as: "thing" -> thing-created, ...
    publishes: str | None = None
    # Event types it emits itself, not from a table's changes ("user-deleted").
    emits: tuple[str, ...] = ()

    def trigger_arn(self, function: str) -> str:
        """The ARN `function`'s handler is declared with."""
        trigger = self.functions[function].trigger
        if trigger is None:
            raise LookupError(f"{function} has no trigger")
        return os.environ.get(trigger.env) or self.placeholder_arn(trigger)

    def stream_trigger(self, function: str) -> dict[str, Any]:
        """Chalice's `on_dynamodb_record` arguments for `function`."""
        options: dict[str, Any] = {
            "stream_arn": self.trigger_arn(function),
            "starting_position": "TRIM_HORIZON",
        }
        if self.functions[function].batch_size is not None:
            options["batch_size"] = self.functions[function].batch_size
        return options

    def queue_trigger(self, function: str) -> dict[str, Any]:
        """Chalice's `on_sqs_message` arguments for `function`."""
        declared = self.functions[function]
        options: dict[str, Any] = {"queue_arn": self.trigger_arn(function)}
        if declared.batch_size is not None:
            options["batch_size"] = declared.batch_size
        if declared.batching_window is not None:
            options["maximum_batching_window_in_seconds"] = declared.batching_window
        return options

    def placeholder_arn(self, trigger: Trigger) -> str:
        properties = self.resources[trigger.resource]["Properties"]
        if trigger.attribute == "StreamArn":
            table = stack_name(properties["TableName"], PLACEHOLDER_STACK)
            return _PLACEHOLDER_ARN.format(
                service="dynamodb", resource=_PLACEHOLDER_STREAM.format(table=table)
            )
        queue = stack_name(properties["QueueName"], PLACEHOLDER_STACK)
        return _PLACEHOLDER_ARN.format(service="sqs", resource=queue)


def stack_name(value: Any, stack: str) -> str:
    """A resource's name as declared, `{"Fn::Sub": "${AWS::StackName}-x"}`, for `stack`."""
    if not (isinstance(value, dict) and set(value) == {"Fn::Sub"}):
        raise ValueError(f"a resource name is declared as Fn::Sub, not {value!r}")
    template = value["Fn::Sub"]
    if re.search(r"\$\{(?!AWS::StackName\})", template):
        raise ValueError(f"{template}: only ${{AWS::StackName}} is known before deployment")
    return str(template.replace("${AWS::StackName}", stack))


@cache
def declarations() -> tuple[Declaration, ...]:
    """Core's declaration first, then every service's, by package name.

    A service is a package of `chalicelib` with an `infra` module holding `DECLARATION`.
    """
    import chalicelib

    found: list[Declaration] = []
    for package in sorted(pkgutil.iter_modules(chalicelib.__path__), key=lambda p: p.name):
        if not package.ispkg:
            continue
        name = f"chalicelib.{package.name}.infra"
        if importlib.util.find_spec(name) is None:
            continue
        declaration = importlib.import_module(name).DECLARATION
        if not isinstance(declaration, Declaration):
            raise TypeError(f"{name}.DECLARATION is not a Declaration")
        found.append(declaration)
    found.sort(key=lambda d: (d.name != "core", d.name))
    return tuple(found)


# ---- what the declarations add up to ------------------------------------------------------


def resources() -> dict[str, Resource]:
    """Every declared resource, in declaration order (a DLQ before its queue); a copy, so
    that a caller's changes never reach the declarations."""
    merged: dict[str, Resource] = {}
    for declaration in declarations():
        for logical_id, resource in declaration.resources.items():
            if logical_id in merged:
                raise ValueError(f"{logical_id} is declared twice")
            merged[logical_id] = copy.deepcopy(resource)
    return merged


def functions() -> dict[str, Function]:
    """Every function; the router's permissions are the union of every share."""
    merged: dict[str, Function] = {}
    router: dict[str, tuple[str, ...]] = {}
    for declaration in declarations():
        for name, function in declaration.functions.items():
            if name in merged:
                raise ValueError(f"function {name} is declared twice")
            merged[name] = function
        for ref, actions in declaration.router.items():
            router[ref] = tuple(sorted({*router.get(ref, ()), *actions}))
    if ROUTER not in merged:
        raise ValueError(f"no declaration has the router's function {ROUTER}")
    allow = dict(merged[ROUTER].allow)
    for ref, actions in router.items():
        allow[ref] = tuple(sorted({*allow.get(ref, ()), *actions}))
    merged[ROUTER] = replace(merged[ROUTER], allow=allow)
    return merged


def settings() -> tuple[Setting, ...]:
    found: list[Setting] = []
    seen: set[str] = set()
    for declaration in declarations():
        for setting in declaration.settings:
            if setting.env in seen:
                raise ValueError(f"setting {setting.env} is declared twice")
            seen.add(setting.env)
            found.append(setting)
    return tuple(found)


def resource_env() -> dict[str, str]:
    """Env var -> the logical id whose Ref is its deployed value."""
    return {s.env: s.ref for s in settings() if s.ref is not None}


def trigger_env() -> dict[str, tuple[str, str]]:
    """Env var -> (logical id, attribute) of every function's trigger."""
    return {
        f.trigger.env: (f.trigger.resource, f.trigger.attribute)
        for f in functions().values()
        if f.trigger is not None
    }


def trigger_arns() -> dict[str, str]:
    """Env var -> the ARN its handler is declared with (env or placeholder)."""
    return {
        function.trigger.env: declaration.trigger_arn(name)
        for declaration in declarations()
        for name, function in declaration.functions.items()
        if function.trigger is not None
    }


def publishers() -> dict[str, str]:
    """Event source (the service's name) -> the resource its events are about."""
    return {d.name: d.publishes for d in declarations() if d.publishes is not None}


def emitters() -> dict[str, tuple[str, ...]]:
    """Event source -> the event types it emits itself (besides its table's changes)."""
    return {d.name: d.emits for d in declarations() if d.emits}
