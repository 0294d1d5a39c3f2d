"""The app's Lambda functions as `chalice package` makes them, matched to their
declarations; the import-time settings (sentinels); and what each function gets besides
its policy: a log group and its event-mapping options."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.core import registry
from chalicelib.core.auth import USER_POOL_ARN_ENV

from .template import DECLARATIONS, PackagingError, Template, get_att

LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}
# Settings read at import because Chalice needs them when routes and handlers are
# declared: env var -> (logical id, attribute) of the resource they must name.
IMPORT_TIME_ENV: dict[str, tuple[str, str]] = {
    USER_POOL_ARN_ENV: ("UserPool", "Arn"),
    **registry.trigger_env(),
}
# Stream mappings: a record is retried this often, halving the batch each time, and then
# sent to the on-failure destination, so one bad record cannot block its shard.
STREAM_MAX_RETRIES = 5
# Batches of one shard with the function at once, each for its own partition keys (per
# key the order holds): one shard's publisher keeps up with a burst of writes.
STREAM_PARALLELIZATION = 10


@dataclass(frozen=True)
class Function:
    """A Lambda function of the plain `chalice package` template."""

    logical_id: str
    name: str
    role_id: str
    properties: dict[str, Any]

    @property
    def log_group_id(self) -> str:
        return f"{self.logical_id}LogGroup"

    def events(self) -> dict[str, Any]:
        events: dict[str, Any] = self.properties.get("Events") or {}
        return events


def discover_functions(plain: Template, names: Iterable[str]) -> list[Function]:
    """Every function of the template, named by its declaration.

    Chalice names a function's role `<function name>_role` in CamelCase, which is how a
    role (and so its function) is matched to an entry.
    """
    by_role = {to_cfn_resource_name(f"{name}_role"): name for name in names}
    found: list[Function] = []
    missing: list[str] = []
    for logical_id, resource in plain["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        role = props.get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise PackagingError(
                f"{logical_id} has no role of its own; set autogen_policy false in "
                ".chalice/config.json"
            )
        role_id = role["Fn::GetAtt"][0]
        if role_id not in by_role:
            missing.append(f"{logical_id} (role {role_id})")
            continue
        found.append(Function(logical_id, by_role.pop(role_id), role_id, props))
    if missing:
        raise PackagingError(
            f"no entry for: {', '.join(missing)}; declare each function in "
            f"{DECLARATIONS} with the permissions its code needs"
        )
    if by_role:
        stale = sorted(by_role.values())
        raise PackagingError(f"the declarations list functions the app lacks: {stale}")
    return found


# ---- sentinels: import-time settings -> the template's resources -------------------------


def sentinel(logical_id: str, attribute: str) -> str:
    return f"arn:aws:tandem-packaging:us-east-1:000000000000:{logical_id}/{attribute}"


def sentinel_environment() -> dict[str, str]:
    return {env: sentinel(*ref) for env, ref in IMPORT_TIME_ENV.items()}


def sentinel_targets(import_env: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    return {sentinel(*ref): {"Fn::GetAtt": list(ref)} for ref in import_env.values()}


def substitute(node: Any, targets: Mapping[str, Any]) -> Any:
    """`node` with every sentinel string replaced by its target."""
    if isinstance(node, str):
        return targets.get(node, node)
    if isinstance(node, dict):
        return {key: substitute(value, targets) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(value, targets) for value in node]
    return node


def overrides_for(node: Any, targets: Mapping[str, Any]) -> Any:
    """What a deep merge must carry to replace the sentinels in `node`, or None.

    Chalice's merge recurses into dicts and replaces anything else, so a dict override
    holds only the changed keys while a list is replaced whole.
    """
    if isinstance(node, dict):
        changed = {}
        for key, value in node.items():
            override = overrides_for(value, targets)
            if override is not None:
                changed[key] = override
        return changed or None
    replaced = substitute(node, targets)
    return replaced if replaced != node else None


def stream_options(on_failure_queue: str) -> dict[str, Any]:
    """A stream mapping's options Chalice has no setting for."""
    return {
        "MaximumRetryAttempts": STREAM_MAX_RETRIES,
        "BisectBatchOnFunctionError": True,
        "ParallelizationFactor": STREAM_PARALLELIZATION,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Destination": get_att(on_failure_queue)}},
    }


# An SQS mapping reports partial batch failures, so one bad message is retried alone.
QUEUE_OPTIONS = {"FunctionResponseTypes": ["ReportBatchItemFailures"]}


def log_group(name: str, stage: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": {"Fn::Sub": name},
            "RetentionInDays": LOG_RETENTION_DAYS[stage],
        },
    }
