"""docs/operations.md has a runbook for every alarm of the packaged template, and its
runbooks use the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
PREFIX = "${AWS::StackName}-"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _sections(doc: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", doc, flags=re.MULTILINE)
    return {_slug(title): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def _index(doc: str) -> dict[str, str]:
    """Alarm name -> the anchor its row links to."""
    rows = re.findall(r"^\| `([^`]+)` \|[^|]*\| \[[^\]]+\]\(#([^)]+)\) \|$", doc, re.MULTILINE)
    return dict(rows)


def alarm_names(template: dict[str, Any]) -> set[str]:
    names = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            name = resource["Properties"]["AlarmName"]["Fn::Sub"]
            assert name.startswith(PREFIX), name
            names.add(name.removeprefix(PREFIX))
    return names


def test_every_alarm_has_a_runbook(template: dict[str, Any]):
    doc = DOC.read_text()
    index, sections = _index(doc), _sections(doc)
    alarms = alarm_names(template)
    assert alarms, "the template has no alarms"
    missing = sorted(alarms - set(index))
    assert not missing, f"docs/operations.md's alarm index has no row for {missing}"
    stale = sorted(set(index) - alarms)
    assert not stale, f"docs/operations.md lists alarms the template does not have: {stale}"
    for alarm, anchor in index.items():
        assert anchor in sections, f"{alarm} links to #{anchor}, which is no section"


def test_every_failure_mode_has_its_cause_response_alarm_and_a_cli_runbook():
    sections = _sections(DOC.read_text())
    modes = {k: v for k, v in sections.items() if k != "alarm-index"}
    for wanted in (
        "lost-or-duplicated-events",
        "a-poison-message",
        "a-stuck-stream-shard",
        "throttling-and-the-shared-concurrency-pool",
        "hot-partitions",
        "a-cascade-of-a-huge-project",
        "dlq-growth",
        "cold-starts",
        "expired-sync-cursors",
        "token-revocation",
        "cost-surprises",
    ):
        assert wanted in modes, wanted
    for anchor, body in modes.items():
        for part in ("**Cause.**", "**What Tandem does.**", "**Alarm", "**Runbook.**"):
            assert part in body, (anchor, part)
        runbook = body.split("**Runbook.**", 1)[1]
        assert "`tandem " in runbook or "`aws " in runbook, anchor
