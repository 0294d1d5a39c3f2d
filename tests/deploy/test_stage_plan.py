"""The `chalice deploy` path (deploy/stage.py) against the packaged template: the same
statements, environment and mapping options for every function, and a data stack that
holds everything else the packaged stack has."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import registry
from chalicelib.core.infra import BATCH_ITEM_FAILURES
from deploy.package import Package
from deploy.stage import Plan, chalice_function_name, output_name, plan

from .conftest import STAGE

CONFIG = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())


@pytest.fixture(scope="module")
def stage_plan(packaged: Package) -> Plan:
    plain_path = packaged.template_path.parent.parent / "work" / STAGE / "plain" / "sam.json"
    return plan(STAGE, json.loads(plain_path.read_text()))


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_both_paths_give_every_function_the_same_statements(template, stage_plan):
    packaged = _functions(template)
    assert sorted(f.logical_id for f in stage_plan.functions) == sorted(packaged)
    for function in stage_plan.functions:
        role = template["Resources"][function.role_id]["Properties"]["Policies"][0]
        assert function.statements == role["PolicyDocument"]["Statement"], function.name


def test_both_paths_give_the_same_environment_and_mapping_options(template, stage_plan):
    for function in stage_plan.functions:
        properties = template["Resources"][function.logical_id]["Properties"]
        assert properties["Tracing"] == "Active"  # Chalice's `xray`, on both paths
        variables = dict(properties["Environment"]["Variables"])
        # Set by `finish` together with the options, never before (core.batch).
        assert variables.pop(BATCH_ITEM_FAILURES.env, None) == (
            "true" if function.mappings else None
        )
        # What .chalice/config.json sets, Chalice sets on both paths.
        from_config = {
            **CONFIG["environment_variables"],
            **CONFIG["stages"][STAGE]["environment_variables"],
        }
        for env, value in from_config.items():
            if variables.get(env) == value:
                del variables[env]
        assert function.environment == variables, function.name
        events = properties.get("Events") or {}
        assert set(function.mappings) == set(events), function.name
        for event, options in function.mappings.items():
            for key, value in options.items():
                assert events[event]["Properties"][key] == value


def test_the_data_stack_has_what_the_packaged_stack_has_besides_chalices_resources(
    template, stage_plan
):
    data = stage_plan.data["Resources"]
    chalice_types = ("AWS::Serverless::", "AWS::ApiGatewayV2::", "AWS::Lambda::", "AWS::IAM::")
    expected = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if not resource["Type"].startswith(chalice_types)
    }
    assert set(data) == expected
    assert set(registry.resources()) <= set(data)
    # Named as Chalice names the functions, which do not exist yet.
    names = {f.logical_id: f.deployed_name for f in stage_plan.functions}
    for function in stage_plan.functions:
        log_group = data[f"{function.logical_id}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == f"/aws/lambda/{function.deployed_name}"
        errors = data[f"{function.logical_id}ErrorsAlarm"]["Properties"]
        assert errors["Dimensions"] == [
            {"Name": "FunctionName", "Value": names[function.logical_id]}
        ]
    assert chalice_function_name(STAGE, "api_handler") == "tandem-dev"
    text = json.dumps(stage_plan.data)
    for logical_id in _functions(template):
        assert f'"{logical_id}"' not in text.replace(f'"{logical_id}LogGroup"', "")


def test_the_data_stack_outputs_every_value_the_chalice_half_names(stage_plan):
    outputs = stage_plan.data["Outputs"]
    data = stage_plan.data["Resources"]
    for reference in stage_plan.needed:
        if reference.split(".")[0] in data:
            assert output_name(reference) in outputs, reference
    assert output_name("UserPool.Arn") in outputs


def test_the_data_template_passes_cfn_lint(stage_plan, tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(stage_plan.data))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(path)], capture_output=True, text=True, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("E")]
    assert errors == [], result.stdout


def test_a_data_resource_that_needs_a_chalice_function_is_refused(packaged, stage_plan):
    import copy

    from deploy.merge import build_merge_template
    from deploy.stage import StageError

    plain_path = packaged.template_path.parent.parent / "work" / STAGE / "plain" / "sam.json"
    plain = json.loads(plain_path.read_text())
    merge = copy.deepcopy(build_merge_template(plain, STAGE))
    # A log subscription to the REST handler: on AWS its destination must exist first.
    merge["Resources"]["ApiLogsSubscription"] = {
        "Type": "AWS::Logs::SubscriptionFilter",
        "Properties": {
            "LogGroupName": {"Ref": "APIHandlerLogGroup"},
            "FilterPattern": "",
            "DestinationArn": {"Fn::GetAtt": ["APIHandler", "Arn"]},
        },
    }
    with pytest.raises(StageError, match="APIHandler"):
        plan(STAGE, plain, merge)
