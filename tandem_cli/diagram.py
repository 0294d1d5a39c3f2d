"""The architecture diagram, drawn from the code: every service's declaration (its
tables, topics, queues, subscriptions with their filters, buckets) and every function's
own permissions (core.registry), with the entry points the app declares (the REST and
websocket APIs, the schedules). Nothing in it is typed by hand, so it cannot drift from
what is deployed; tests/test_diagram.py fails while the committed copy is stale.

    python -m tandem_cli.diagram         (make diagram) writes docs/architecture.dot and,
                                         with Graphviz's `dot`, docs/architecture.svg

Edges: a trigger (stream or queue -> function, bold), a write (function -> resource,
solid), a read (resource -> function, dashed), a subscription with its filter (topic ->
queue), a dead-letter path (queue or stream function -> DLQ, red dotted).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOT_PATH = ROOT / "docs" / "architecture.dot"
SVG_PATH = ROOT / "docs" / "architecture.svg"
SOURCE_MARK = "<!-- tandem-diagram-source sha256:{} -->"

_READS = ("Get", "Query", "Scan", "BatchGet", "ConditionCheck", "Receive", "Describe", "List")
_STYLE = {
    "AWS::DynamoDB::Table": 'shape=cylinder style=filled fillcolor="#D6E4F5" color="#2E5C99"',
    "AWS::SNS::Topic": 'shape=hexagon style=filled fillcolor="#F8D7E3" color="#B0306A"',
    "AWS::SQS::Queue": 'shape=box3d style=filled fillcolor="#FCEBCB" color="#A66B00"',
    "dlq": 'shape=box3d style=filled fillcolor="#EEEEEE" color="#B00020" fontcolor="#B00020"',
    "AWS::S3::Bucket": 'shape=folder style=filled fillcolor="#DCEFD9" color="#2F7D32"',
    "AWS::Cognito::UserPool": 'shape=ellipse style=filled fillcolor="#E8E0F5" color="#5B3E9C"',
    "function": 'shape=box style="rounded,filled" fillcolor="#FFE0B2" color="#E65100"',
    "entry": 'shape=cds style=filled fillcolor="#FFFFFF" color="#333333"',
}
_HIDDEN_TYPES = {"AWS::SNS::Subscription", "AWS::SQS::QueuePolicy", "AWS::Cognito::UserPoolClient"}


def _quote(text: str) -> str:
    """A DOT string: quotes and backslashes escaped, newlines as DOT's line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _is_read(action: str) -> bool:
    verb = action.split(":", 1)[1]
    return verb.startswith(_READS)


def _filter_text(values: Iterable[Any]) -> str:
    parts = []
    for value in values:
        if isinstance(value, dict) and "prefix" in value:
            parts.append(f"{value['prefix']}*")
        else:
            parts.append(str(value))
    return "\n".join(parts)


def _app() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import app

    return app


def entry_points() -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(schedules as (function, expression), websocket functions, plain functions) of the
    app, from its own declarations."""
    from chalice.app import ScheduledEventConfig

    app = _app()
    schedules = []
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            schedules.append((source.name, text))
    from devstack.pump import WEBSOCKET_FUNCTIONS  # Chalice's names of the three

    websocket = sorted(WEBSOCKET_FUNCTIONS[route] for route in app.websocket_handlers)
    plain = sorted(f.name for f in app.pure_lambda_functions)
    return sorted(schedules), websocket, plain


def build() -> str:
    """The diagram as Graphviz DOT, deterministic (sorted) so that the drift test can
    compare it as text."""
    from chalice.utils import to_cfn_resource_name

    from chalicelib.core import registry

    resources = registry.resources()
    functions = registry.functions()
    schedules, websocket, _ = entry_points()
    by_cfn = {to_cfn_resource_name(name): name for name in functions}
    dead_letters = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    } | {f.on_failure for f in functions.values() if f.on_failure}

    lines = [
        "digraph tandem {",
        '  graph [rankdir=TB fontname="Helvetica" fontsize=12 nodesep=0.25 ranksep=0.9 '
        'compound=true newrank=true labelloc=t label="Tandem: functions, data and events '
        "(generated from the declarations by make diagram)\\nbold: trigger   blue: writes "
        "(both ends: reads and writes)   dashed: reads   pink: subscription (its filter)   "
        'red dotted: dead letters"]',
        '  node [fontname="Helvetica" fontsize=10]',
        '  edge [fontname="Helvetica" fontsize=8 arrowsize=0.6]',
        f'  rest [label="REST API\\n(API Gateway)" {_STYLE["entry"]}]',
    ]
    if websocket:
        lines.append(f'  websocket [label="Websocket API" {_STYLE["entry"]}]')
        lines.append(
            '  connections [label="Websocket API\\n@connections (push)" '
            f"{_STYLE['entry']} shape=box]"
        )
    for scheduled, expression in schedules:
        lines.append(
            f"  {_quote('schedule:' + scheduled)} [label={_quote(expression)} "
            f"{_STYLE['entry']} shape=note]"
        )

    for declaration in registry.declarations():
        shown = {
            logical: resource
            for logical, resource in declaration.resources.items()
            if resource["Type"] not in _HIDDEN_TYPES
        }
        if not shown and not declaration.functions:
            continue
        lines.append(f"  subgraph {_quote('cluster_' + declaration.name)} {{")
        lines.append(
            f'    label={_quote(declaration.name)} style=rounded color="#9E9E9E" '
            'fontsize=14 fontname="Helvetica-Bold"'
        )
        for logical, resource in sorted(shown.items()):
            kind = "dlq" if logical in dead_letters else resource["Type"]
            style = _STYLE.get(kind, "shape=box")
            lines.append(f"    {_quote(logical)} [label={_quote(logical)} {style}]")
        for name in sorted(declaration.functions):
            lines.append(f"    {_quote(name)} [label={_quote('λ ' + name)} {_STYLE['function']}]")
        lines.append("  }")

    edges: list[str] = []
    edges.append(f"  rest -> {_quote(registry.ROUTER)} [penwidth=2]")
    for name in websocket:
        if name in functions:
            edges.append(f"  websocket -> {_quote(name)} [penwidth=2]")
    for scheduled, _ in schedules:
        edges.append(f"  {_quote('schedule:' + scheduled)} -> {_quote(scheduled)} [penwidth=2]")

    for logical, resource in sorted(resources.items()):
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SNS::Subscription":
            topic = properties["TopicArn"]["Ref"]
            queue = properties["Endpoint"]["Fn::GetAtt"][0]
            label = _filter_text(properties.get("FilterPolicy", {}).get("eventType", ["all"]))
            edges.append(
                f"  {_quote(topic)} -> {_quote(queue)} "
                f'[label={_quote(label)} color="#B0306A" fontcolor="#B0306A"]'
            )
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in properties:
            policy = properties["RedrivePolicy"]
            edges.append(
                f"  {_quote(logical)} -> "
                f"{_quote(policy['deadLetterTargetArn']['Fn::GetAtt'][0])} "
                f"[label={_quote(str(policy['maxReceiveCount']) + ' receives')} "
                'style=dotted color="#B00020" fontcolor="#B00020"]'
            )

    for name, function in sorted(functions.items()):
        if function.trigger is not None:
            what = "stream" if function.trigger.attribute == "StreamArn" else ""
            edges.append(
                f"  {_quote(function.trigger.resource)} -> {_quote(name)} "
                f"[penwidth=2 label={_quote(what)}]"
            )
        if function.on_failure:
            edges.append(
                f"  {_quote(name)} -> {_quote(function.on_failure)} "
                '[label="gave up" style=dotted color="#B00020" fontcolor="#B00020"]'
            )
        reads: dict[str, set[str]] = {}
        writes: dict[str, set[str]] = {}
        for ref, actions in function.allow.items():
            target, _, rest = ref.partition("/")
            if target in by_cfn:
                target = by_cfn[target]
            elif target == "WebsocketAPI":
                target = "connections"
            elif target not in resources:
                continue
            index = rest.removeprefix("index/") if rest.startswith("index/") else ""
            for action in actions:
                bucket = reads if _is_read(action) else writes
                bucket.setdefault(target, set())
                if index:
                    bucket[target].add(index)
        # Every permission edge points away from the function (so entry points, functions
        # and data rank left to right); its arrowheads say which way data flows.
        for target in sorted(set(reads) | set(writes)):
            indexes = reads.get(target, set()) | writes.get(target, set())
            note = f" label={_quote(', '.join(sorted(indexes)))}" if indexes else ""
            if target not in writes:
                style = 'dir=back style=dashed color="#607D8B"'
            elif target in reads:
                style = 'dir=both color="#1565C0"'
            else:
                style = 'color="#1565C0"'
            if function.trigger and target == function.trigger.resource:
                note = ' label="hands on the rest"'
            if name == registry.ROUTER:
                # The API reaches nearly every table: its edges are drawn light and left
                # out of the layout, which then follows the flow of events.
                style = style.replace('"#1565C0"', '"#1565C066"').replace(
                    '"#607D8B"', '"#607D8B66"'
                )
                style += " constraint=false"
            edges.append(f"  {_quote(name)} -> {_quote(target)} [{style}{note}]")
    lines += sorted(set(edges), key=edges.index)
    lines.append("}")
    return "\n".join(lines) + "\n"


def source_hash(dot: str) -> str:
    return hashlib.sha256(dot.encode()).hexdigest()


def render(dot: str) -> str:
    """The SVG of `dot` (Graphviz's `dot` command), marked with the hash of its source."""
    binary = shutil.which("dot")
    if binary is None:
        raise SystemExit("Graphviz's `dot` is not installed: apt-get install graphviz")
    svg = subprocess.run(  # noqa: S603 (dot, found on PATH, with fixed arguments)
        [binary, "-Tsvg"], input=dot.encode(), capture_output=True, check=True
    ).stdout.decode()
    head, _, body = svg.partition("\n<svg")
    return f"{head}\n{SOURCE_MARK.format(source_hash(dot))}\n<svg{body}"


def main() -> int:
    dot = build()
    DOT_PATH.write_text(dot)
    SVG_PATH.write_text(render(dot))
    print(f"wrote {DOT_PATH.relative_to(ROOT)} and {SVG_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
