"""The services' declarations (chalicelib/*/infra.py), collected by core.registry: what
is generated from them is current, and the app's handlers are wired as declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chalice.app import DynamoDBEventConfig, SQSEventConfig

from app import app
from chalicelib.core import registry
from chalicelib.core.registry import Declaration, Function, Setting, Trigger
from chalicelib.core.resources import queue, table
from deploy import chalice_config

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [p for p in (ROOT / "chalicelib").iterdir() if p.name != "core"]
SERVICES = sorted(p.name for p in PACKAGES if (p / "infra.py").exists())


def test_the_committed_chalice_config_is_generated_from_the_declarations():
    committed = (ROOT / ".chalice" / "config.json").read_text()
    assert committed == chalice_config.render(), "stale: run `make chalice-config`"


def test_the_stage_variables_name_each_stages_own_tables():
    variables = chalice_config.stage_environment("prod")
    assert variables["TANDEM_STAGE"] == "prod"
    assert variables["TANDEM_IDEMPOTENCY_TABLE"] == "tandem-prod-idempotency"
    tables = [r for r in registry.resources().values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(variables) == 1 + len(tables)


def test_every_service_with_models_declares_itself():
    assert {p.name for p in PACKAGES if (p / "models.py").exists()} <= set(SERVICES)
    assert [d.name for d in registry.declarations()] == ["core", *SERVICES]


def test_every_handler_is_declared_and_triggered_by_its_declared_resource():
    declared = registry.functions()
    arns = registry.trigger_arns()
    triggered = set()
    for source in app.event_sources:
        function = declared[source.name]
        assert function.trigger is not None, source.name
        triggered.add(source.name)
        if isinstance(source, SQSEventConfig):
            assert source.queue_arn == arns[function.trigger.env]
            assert source.batch_size == (function.batch_size or 1), source.name
        else:
            assert isinstance(source, DynamoDBEventConfig)
            assert source.stream_arn == arns[function.trigger.env]
    assert triggered == {name for name, f in declared.items() if f.trigger is not None}


def test_a_placeholder_arn_is_made_from_the_declared_name(monkeypatch: pytest.MonkeyPatch):
    declaration = Declaration(
        name="things",
        resources={"ThingsTable": table("things", ("userId", "thingId"), stream=True)},
        functions={
            "publish": Function(trigger=Trigger("THINGS_STREAM", "ThingsTable", "StreamArn"))
        },
    )
    monkeypatch.delenv("THINGS_STREAM", raising=False)
    assert declaration.trigger_arn("publish") == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/tandem-things/stream/1970-01-01T00:00:00.000"
    )
    monkeypatch.setenv("THINGS_STREAM", "arn:aws:dynamodb:eu-west-1:1:table/x/stream/y")
    assert declaration.stream_trigger("publish")["stream_arn"].startswith("arn:aws:dynamodb:eu")


def test_the_router_gets_every_services_share():
    router = registry.functions()[registry.ROUTER].allow
    for declaration in registry.declarations():
        for ref, actions in declaration.router.items():
            assert set(actions) <= set(router[ref]), (declaration.name, ref)


def test_a_setting_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch):
    setting = Setting("THINGS_LIMIT", default="7")
    monkeypatch.delenv("THINGS_LIMIT", raising=False)
    assert setting.number() == 7
    monkeypatch.setenv("THINGS_LIMIT", "9")
    assert setting.number() == 9
    with pytest.raises(RuntimeError, match="THINGS_TABLE"):
        Setting("THINGS_TABLE", ref="ThingsTable").required()


def test_a_queue_redrives_to_its_dead_letter_queue():
    assert queue("q", dead_letters="QDLQ")["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["QDLQ", "Arn"]},
        "maxReceiveCount": 5,
    }


# ---- core names no service ------------------------------------------------------------------


def test_core_names_no_service_and_imports_none():
    pattern = re.compile(r"\b(" + "|".join(SERVICES) + r")\b", re.IGNORECASE)
    offenders = []
    for path in sorted((ROOT / "chalicelib" / "core").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            # A problem type the API contract names (API.md) is vocabulary, not a service.
            if pattern.search(line.replace('"sync-cursor-expired"', "")):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
