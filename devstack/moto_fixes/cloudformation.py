"""CloudFormation: the resource types Tandem declares that moto's stacks skip.

moto (5.2) creates a stack's resources through one model per type. It has none for
AWS::Cognito::UserPool, AWS::Cognito::UserPoolClient, AWS::SNS::Subscription,
AWS::SQS::QueuePolicy and AWS::CloudWatch::Alarm: it logs "No Moto CloudFormation support"
and creates nothing, and every Ref to them is the logical id. A stage's data stack
(deploy/stage.py) has all five, so the moto deploy test (tests/deploy/test_chalice_deploy.py)
would deploy functions against a user pool and subscriptions that do not exist.

Each model here creates its resource through moto's own backend, as the matching API call
would, answers Ref and Fn::GetAtt as CloudFormation documents, and deletes it with the
stack. docs/local-stack.md has the upstream report.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel

_SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicyScope", "FilterPolicy")


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class _Created:
    """A resource created by a backend: its Ref, its attributes, how to delete it. (moto
    finds models as CloudFormationModel's direct subclasses, so each names it too.)"""

    def __init__(self, physical_id: str, attributes: dict[str, str], undo: Any = None) -> None:
        self._physical_id = physical_id
        self._attributes = attributes
        self._undo = undo

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self._attributes:
            raise UnformattedGetAttTemplateException()
        return self._attributes[attribute_name]

    def delete(self, account_id: str, region_name: str) -> None:
        if self._undo is not None:
            self._undo()


class UserPool(_Created, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserPoolName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> UserPool:
        from moto.cognitoidp.models import cognitoidp_backends

        backend = cognitoidp_backends[account_id][region_name]
        props = dict(cloudformation_json.get("Properties", {}))
        name = props.pop("UserPoolName", resource_name)
        pool = backend.create_user_pool(name, props)
        return cls(
            pool.id,
            {
                "Arn": pool.arn,
                "ProviderName": f"cognito-idp.{region_name}.amazonaws.com/{pool.id}",
                "ProviderURL": f"https://cognito-idp.{region_name}.amazonaws.com/{pool.id}",
                "UserPoolId": pool.id,
            },
            lambda: backend.delete_user_pool(pool.id),
        )


class UserPoolClient(_Created, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> UserPoolClient:
        from moto.cognitoidp.models import cognitoidp_backends

        backend = cognitoidp_backends[account_id][region_name]
        props = dict(cloudformation_json.get("Properties", {}))
        pool_id = props.pop("UserPoolId")
        secret = bool(props.pop("GenerateSecret", False))
        client = backend.create_user_pool_client(pool_id, secret, props)
        return cls(
            client.id,
            {"ClientId": client.id},
            lambda: backend.delete_user_pool_client(pool_id, client.id),
        )


class Subscription(_Created, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> Subscription:
        from moto.sns.models import sns_backends

        backend = sns_backends[account_id][region_name]
        props = cloudformation_json.get("Properties", {})
        subscription = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if key in props:
                backend.set_subscription_attributes(subscription.arn, key, _text(props[key]))
        return cls(subscription.arn, {}, lambda: backend.unsubscribe(subscription.arn))


class QueuePolicy(_Created, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> QueuePolicy:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[account_id][region_name]
        props = cloudformation_json.get("Properties", {})
        names = [url.rstrip("/").rsplit("/", 1)[-1] for url in props["Queues"]]
        for name in names:
            backend.set_queue_attributes(name, {"Policy": _text(props["PolicyDocument"])})

        def undo() -> None:
            for name in names:
                if name in backend.queues:
                    backend.set_queue_attributes(name, {"Policy": ""})

        return cls(f"{resource_name}-policy", {}, undo)


class Alarm(_Created, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> Alarm:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[account_id][region_name]
        props = cloudformation_json.get("Properties", {})
        name = props.get("AlarmName", resource_name)
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=props.get("Namespace", ""),
            metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic", ""),
            description=props.get("AlarmDescription", ""),
            dimensions=[
                {"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions", [])
            ],
            alarm_actions=list(props.get("AlarmActions", [])),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(name, {"Arn": alarm.alarm_arn}, lambda: backend.delete_alarms([name]))


def apply() -> None:
    from moto.cloudformation import parsing

    # The models are CloudFormationModel's subclasses, found when the map is first built.
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
