"""`make chalice-config`: writes .chalice/config.json from the services' declarations.

Chalice reads its stage variables and per-function settings from that file, so it is
generated, committed, and checked for drift by tests/test_registry.py. Per stage: the
stage's name and the name of every declared table a setting names (`tandem-<stage>-...`),
which `chalice local` and the local stack need before anything is provisioned. Per
function: its declared timeout, memory and reserved concurrency.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.core import registry
from chalicelib.core.settings import STAGE_ENV, STAGES

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / ".chalice" / "config.json"
APP_NAME = "tandem"
DEFAULT_TIMEOUT = 60  # Chalice's own default is 60 s too; stated so that it is visible
# Chalice's default, 128 MB, is 128/1769 of a vCPU: the package's init and first request
# (about 0.3 s of CPU, docs/benchmarks.md) would take some 4 s. 512 MB: about 1 s, for
# every function a user does not wait on; a function's declaration may ask for more.
DEFAULT_MEMORY = 512


def stage_environment(stage: str) -> dict[str, str]:
    resources = registry.resources()
    variables = {STAGE_ENV: stage}
    for setting in registry.settings():
        if setting.ref and resources[setting.ref]["Type"] == "AWS::DynamoDB::Table":
            name = resources[setting.ref]["Properties"]["TableName"]
            variables[setting.env] = registry.stack_name(name, f"{APP_NAME}-{stage}")
    return variables


def function_settings(function: registry.Function) -> dict[str, int]:
    chalice_keys = {
        "lambda_timeout": function.timeout,
        "lambda_memory_size": function.memory,
        "reserved_concurrency": function.concurrency,
    }
    return {key: value for key, value in chalice_keys.items() if value is not None}


def deployed_stage(project: Path, stage: str) -> dict[str, Any]:
    """What `python -m deploy.stage up` learnt of a stage deployed with `chalice deploy`
    (its data stack's ARNs, each function's policy file): .chalice/stages/<stage>.json,
    which is not committed (account-specific)."""
    path = project / ".chalice" / "stages" / f"{stage}.json"
    if not path.exists():
        return {}
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def stage_config(stage: str, project: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "api_gateway_stage": "api",
        "environment_variables": stage_environment(stage),
    }
    deployed = deployed_stage(project, stage)
    if deployed:
        entry["environment_variables"].update(deployed["environment_variables"])
        entry["lambda_functions"] = deployed["lambda_functions"]
    return entry


def config(project: Path = ROOT) -> dict[str, Any]:
    return {
        "version": "2.0",
        "app_name": APP_NAME,
        # Every function gets its own role, from its declaration (deploy: `make package`).
        "autogen_policy": False,
        "iam_policy_file": "policy-deny-all.json",
        "environment_variables": {
            "POWERTOOLS_SERVICE_NAME": APP_NAME,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        },
        "stages": {stage: stage_config(stage, project) for stage in STAGES},
        "lambda_timeout": DEFAULT_TIMEOUT,
        "lambda_memory_size": DEFAULT_MEMORY,
        # Active X-Ray tracing on every function (core.observability), on both deploy paths:
        # `chalice package` writes Tracing: Active, `chalice deploy` sets TracingConfig.
        "xray": True,
        "lambda_functions": {
            name: function_settings(function) for name, function in registry.functions().items()
        },
    }


def render(project: Path = ROOT) -> str:
    return json.dumps(config(project), indent=2) + "\n"


def write(project: Path = ROOT) -> None:
    (project / ".chalice" / "config.json").write_text(render(project))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the file differs")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if CONFIG_FILE.read_text() != text:
            print(f"{CONFIG_FILE} is stale: run `make chalice-config`", file=sys.stderr)
            return 1
        return 0
    CONFIG_FILE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
