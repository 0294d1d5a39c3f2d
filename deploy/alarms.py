"""CloudWatch alarms: every function's errors and throttles, a stream reader's iterator
age, every dead-letter queue's depth. All notify the alerts topic (deploy/stack.yaml)."""

from __future__ import annotations

from typing import Any

from .template import get_att

ALERTS_TOPIC = "AlertsTopic"
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000
ALARM_PERIOD_SECONDS = 300


def alarm(
    logical_suffix: str,
    description: str,
    namespace: str,
    metric: str,
    dimension: tuple[str, Any],
    statistic: str,
    threshold: int,
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{logical_suffix}"},
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
            "Statistic": statistic,
            "Period": ALARM_PERIOD_SECONDS,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": ALERTS_TOPIC}],
        },
    }


def function_alarms(logical_id: str, name: str, streams: bool) -> dict[str, dict[str, Any]]:
    """Alarms of one function, by logical id: errors, throttles, and for a stream reader
    how far behind its stream it is."""
    dimension = ("FunctionName", {"Ref": logical_id})
    alarms = {
        f"{logical_id}{metric}Alarm": alarm(
            f"{name}-{metric.lower()}",
            f"{name} {what} in the last five minutes.",
            "AWS/Lambda",
            metric,
            dimension,
            "Sum",
            1,
        )
        for metric, what in (("Errors", "failed"), ("Throttles", "was throttled"))
    }
    if streams:
        alarms[f"{logical_id}IteratorAgeAlarm"] = alarm(
            f"{name}-iterator-age",
            f"{name} is five minutes or more behind its stream.",
            "AWS/Lambda",
            "IteratorAge",
            dimension,
            "Maximum",
            ITERATOR_AGE_ALARM_MS,
        )
    return alarms


def queue_alarm(queue: str) -> dict[str, Any]:
    return alarm(
        f"{queue}-depth",
        f"Messages are waiting in the dead-letter queue {queue}.",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ("QueueName", get_att(queue, "QueueName")),
        "Maximum",
        1,
    )
