"""docs/architecture.svg is drawn from the declarations (tandem_cli.diagram): it shows
every function, table, topic, queue, subscription with its filter, bucket and schedule,
and the committed copy is the one the code makes today."""

from __future__ import annotations

import re

from chalicelib.core import registry
from tandem_cli import diagram

STALE = "docs/architecture.* is stale: run `make diagram` and commit both files"


def test_the_committed_diagram_is_the_one_the_code_draws():
    dot = diagram.build()
    assert diagram.DOT_PATH.read_text() == dot, STALE
    svg = diagram.SVG_PATH.read_text()
    assert diagram.SOURCE_MARK.format(diagram.source_hash(dot)) in svg, STALE


def _nodes(svg: str) -> set[str]:
    return set(re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg))


def test_every_declared_part_is_drawn():
    dot = diagram.build()
    shown = set(re.findall(r'^\s+"([^"]+)" \[label=', dot, flags=re.MULTILINE))
    drawn_types = (
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
    )
    for logical, resource in registry.resources().items():
        if resource["Type"] in drawn_types:
            assert logical in shown, logical
    assert set(registry.functions()) <= shown
    schedules, _, _ = diagram.entry_points()
    for function, expression in schedules:
        assert f'"schedule:{function}" -> "{function}"' in dot
        assert expression in dot
    # The committed SVG has a node for each of them too (it was rendered from this DOT).
    assert shown <= _nodes(diagram.SVG_PATH.read_text())


def test_subscriptions_carry_their_filters_and_permissions_their_direction():
    dot = diagram.build()
    for resource in registry.resources().values():
        if resource["Type"] != "AWS::SNS::Subscription":
            continue
        properties = resource["Properties"]
        topic = properties["TopicArn"]["Ref"]
        queue = properties["Endpoint"]["Fn::GetAtt"][0]
        label = diagram._quote(diagram._filter_text(properties["FilterPolicy"]["eventType"]))
        assert f'"{topic}" -> "{queue}" [label={label}' in dot
    for name, function in registry.functions().items():
        if function.on_failure:
            assert f'"{name}" -> "{function.on_failure}" [label="gave up"' in dot
        for ref, actions in function.allow.items():
            target = ref.split("/")[0]
            if target not in registry.resources():
                continue
            edge = re.search(rf'"{name}" -> "{target}" \[([^\]]*)\]', dot)
            assert edge is not None, (name, ref)
            reads = all(diagram._is_read(a) for a in actions)
            if reads and "dir=back" not in edge.group(1):
                # A read-only grant is drawn as a read unless another grant writes there.
                assert any(
                    not diagram._is_read(a)
                    for r, acts in function.allow.items()
                    if r.split("/")[0] == target
                    for a in acts
                ), (name, ref)
