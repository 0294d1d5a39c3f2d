"""The merge template for one stage: from the plain `chalice package` template and the
services' declarations, everything Chalice cannot express (deploy/package.py runs it)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.core import registry
from chalicelib.core.infra import BATCH_ITEM_FAILURES

from . import alarms
from .functions import (
    IMPORT_TIME_ENV,
    QUEUE_OPTIONS,
    Function,
    discover_functions,
    log_group,
    overrides_for,
    sentinel,
    sentinel_targets,
    stream_options,
    substitute,
)
from .gateway_responses import THROTTLING, gateway_responses
from .policies import (
    ON_FAILURE_ACTIONS,
    OWN_LOG_ACTIONS,
    QUEUE_TRIGGER_ACTIONS,
    STAR_ACTIONS,
    STREAM_TRIGGER_ACTIONS,
    TRACING_ACTIONS,
    arn_of,
    functions_table,
    statement,
    websocket_stage,
)
from .template import (
    DECLARATIONS,
    ROOT,
    STAGES,
    PackagingError,
    Template,
    deep_merge,
    get_att,
    load_yaml,
)

# What the packaged stack needs besides the declared resources and the functions.
STACK_FILE = ROOT / "deploy" / "stack.yaml"


def dead_letter_queues(resources: Mapping[str, Any]) -> list[str]:
    """Queues that are some queue's redrive target."""
    found = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::SQS::Queue":
            continue
        target = resource.get("Properties", {}).get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            found.append(target["Fn::GetAtt"][0])
    return found


def _merge_sections(*templates: Template) -> Template:
    merged: Template = {}
    for template in templates:
        for section in ("Parameters", "Conditions", "Mappings", "Resources", "Outputs"):
            for key, value in (template.get(section) or {}).items():
                target = merged.setdefault(section, {})
                if key in target:
                    raise PackagingError(f"{section}.{key} is defined twice")
                target[key] = value
    return merged


class MergeBuilder:
    """The merge template for one stage, from the plain template and the declarations."""

    def __init__(
        self,
        plain: Template,
        stage: str,
        infra: Template,
        deploy: Template,
        functions_table: Mapping[str, Any],
        resource_env: Mapping[str, str] | None = None,
        import_env: Mapping[str, tuple[str, str]] = IMPORT_TIME_ENV,
        chalice_env: Sequence[registry.Setting] | None = None,
    ) -> None:
        if stage not in STAGES:
            raise PackagingError(f"stage must be one of {STAGES}, not {stage!r}")
        self.plain = plain
        self.stage = stage
        self.resource_env = registry.resource_env() if resource_env is None else resource_env
        self.import_env = import_env
        # Settings whose value is a resource Chalice generates (the websocket API).
        self.chalice_env = [
            setting
            for setting in (registry.settings() if chalice_env is None else chalice_env)
            if setting.chalice_ref or setting.chalice_stage_of
        ]
        self.merge = _merge_sections(infra, deploy)
        self.infra: dict[str, Any] = dict(self.merge["Resources"])
        clash = sorted(set(self.infra) & set(plain["Resources"]))
        if clash:
            raise PackagingError(f"the declarations and Chalice both define {clash}")
        self.known: dict[str, Any] = {**plain["Resources"], **self.infra}
        self.specs: dict[str, dict[str, Any]] = {
            name: spec or {} for name, spec in functions_table.items()
        }
        self.functions = discover_functions(plain, self.specs)
        self.targets = sentinel_targets(import_env)
        self.dead_letter_queues = dead_letter_queues(self.infra)

    def build(self) -> Template:
        self._replace_sentinels()
        for function in self.functions:
            self._function(function)
        for queue in self.dead_letter_queues:
            self._add(f"{queue}DepthAlarm", alarms.queue_alarm(queue))
        responses = {"x-amazon-apigateway-gateway-responses": gateway_responses()}
        for logical_id, resource in self.plain["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Api":
                self._override(
                    logical_id,
                    {"Properties": {"DefinitionBody": responses, "MethodSettings": THROTTLING}},
                )
        return self.merge

    def _add(self, logical_id: str, resource: dict[str, Any]) -> None:
        if logical_id in self.known:
            raise PackagingError(f"generated {logical_id} clashes with a resource of that name")
        self.known[logical_id] = resource
        self.merge["Resources"][logical_id] = resource

    def _override(self, logical_id: str, override: Mapping[str, Any]) -> None:
        deep_merge(self.merge["Resources"].setdefault(logical_id, {}), override)

    def _replace_sentinels(self) -> None:
        text = json.dumps(self.plain["Resources"])
        used = {ref[0] for ref in self.import_env.values() if sentinel(*ref) in text}
        unknown = sorted(used - set(self.infra))
        if unknown:
            raise PackagingError(f"the app refers to {unknown} at import, which none declares")
        overrides = overrides_for(self.plain["Resources"], self.targets) or {}
        for logical_id, override in overrides.items():
            self._override(logical_id, override)

    # -- one function --

    def _function(self, function: Function) -> None:
        spec = self.specs[function.name]
        statements = [
            statement("OwnLogGroup", OWN_LOG_ACTIONS, get_att(function.log_group_id)),
            # X-Ray takes no resource in these actions: the one Resource "*" (decisions.md).
            statement("Tracing", TRACING_ACTIONS, "*"),
        ]
        for ref, actions in (spec.get("allow") or {}).items():
            outside = sorted(set(actions) - STAR_ACTIONS)
            if ref == "*" and outside:
                raise PackagingError(f"{function.name}: {outside} may not have Resource *")
            statements.append(statement(ref, actions, arn_of(ref, self.known)))
        events: dict[str, Any] = {}
        for event_name, event in function.events().items():
            source = substitute(event.get("Properties", {}), self.targets)
            if event.get("Type") == "SQS":
                statements.append(
                    statement(f"{event_name}Queue", QUEUE_TRIGGER_ACTIONS, source["Queue"])
                )
                options = QUEUE_OPTIONS
            elif event.get("Type") == "DynamoDB":
                statements.append(
                    statement(f"{event_name}Stream", STREAM_TRIGGER_ACTIONS, source["Stream"])
                )
                queue = self._on_failure_queue(function)
                statements.append(
                    statement(f"{event_name}OnFailure", ON_FAILURE_ACTIONS, get_att(queue))
                )
                options = stream_options(queue)
            else:
                continue
            events[event_name] = {"Properties": options}
        streams = any(event.get("Type") == "DynamoDB" for event in function.events().values())
        if "on_failure" in spec and not streams:
            raise PackagingError(f"{function.name}: on_failure, but no stream triggers it")

        name = f"${{AWS::StackName}}-{function.name}"
        self._add(function.log_group_id, log_group(f"/aws/lambda/{name}", self.stage))
        properties: dict[str, Any] = {
            "FunctionName": {"Fn::Sub": name},
            "Environment": {"Variables": self._environment(function)},
        }
        if events:
            properties["Events"] = events
            # Set in the same update as the mappings' option (core.batch).
            properties["Environment"]["Variables"][BATCH_ITEM_FAILURES.env] = "true"
        self._override(function.logical_id, {"Properties": properties})
        sids = [entry["Sid"] for entry in statements]
        if len(set(sids)) != len(sids):
            raise PackagingError(f"{function.name}: statement ids repeat: {sids}")
        document = {"Version": "2012-10-17", "Statement": statements}
        policy = {"PolicyName": f"{function.role_id}Policy", "PolicyDocument": document}
        self._override(function.role_id, {"Properties": {"Policies": [policy]}})
        for logical_id, alarm in alarms.function_alarms(
            function.logical_id, function.name, streams
        ).items():
            self._add(logical_id, alarm)

    def _environment(self, function: Function) -> dict[str, Any]:
        """Every resource setting as a Ref; import-time settings, if the stage declares
        them, as the attribute they name."""
        variables: dict[str, Any] = {}
        for env, logical_id in self.resource_env.items():
            if logical_id not in self.infra:
                raise PackagingError(f"{env}: no resource {logical_id} is declared")
            variables[env] = {"Ref": logical_id}
        declared = (function.properties.get("Environment") or {}).get("Variables") or {}
        for env, (logical_id, attribute) in self.import_env.items():
            if env in declared:
                variables[env] = get_att(logical_id, attribute)
        # Resources Chalice generates (the websocket API), when the app has them.
        generated = self.plain["Resources"]
        for setting in self.chalice_env:
            if setting.chalice_ref == function.logical_id:
                continue  # a function's own Ref in its environment would be a cycle
            if setting.chalice_ref in generated:
                variables[setting.env] = {"Ref": setting.chalice_ref}
            elif setting.chalice_stage_of and setting.chalice_stage_of in generated:
                variables[setting.env] = websocket_stage(setting.chalice_stage_of, generated)
        return variables

    def _on_failure_queue(self, function: Function) -> str:
        queue = self.specs[function.name].get("on_failure")
        if not isinstance(queue, str) or self.infra.get(queue, {}).get("Type") != "AWS::SQS::Queue":
            raise PackagingError(
                f"{function.name} reads a stream: set its on_failure in {DECLARATIONS} "
                f"to a declared queue (not {queue!r})"
            )
        if queue not in self.dead_letter_queues:
            self.dead_letter_queues.append(queue)
        return queue


def build_merge_template(plain: Template, stage: str) -> Template:
    return MergeBuilder(
        plain,
        stage,
        {"Resources": registry.resources()},
        load_yaml(STACK_FILE),
        functions_table(),
    ).build()
