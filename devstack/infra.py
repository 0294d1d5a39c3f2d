"""Creates the resources the services declare (core.registry) through boto3.

moto's CloudFormation cannot create every resource type Tandem uses (docs/local-stack.md),
so this translates the declared resources into API calls instead of keeping a second
definition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.core import infra as core_infra
from chalicelib.core import registry

ROOT = Path(__file__).resolve().parent.parent

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode")
_GSI_KEYS = ("IndexName", "KeySchema", "Projection")


def load_template() -> dict[str, Any]:
    """Every declared resource, as a template's Resources section."""
    return {"Resources": registry.resources()}


@dataclass
class Context:
    stack_name: str
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # What `Ref` of each created resource gives, and its `Fn::GetAtt` attributes.
    names: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Resolves the intrinsics the template uses: Fn::Sub, Ref and Fn::GetAtt."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._pseudo(m.group(1)), arg)
            if key == "Ref":
                return self._pseudo(arg)
            if key == "Fn::GetAtt":
                return self.attributes[(arg[0], arg[1])]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _pseudo(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
        }
        if name in pseudo:
            return pseudo[name]
        return self.names[name]


def resources_of(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {
        logical: resource
        for logical, resource in template["Resources"].items()
        if resource["Type"] == type_name
    }


def create_tables(dynamodb: Any, template: dict[str, Any], ctx: Context) -> None:
    for logical, resource in resources_of(template, "AWS::DynamoDB::Table").items():
        props = ctx.resolve(resource["Properties"])
        name = props["TableName"]
        request: dict[str, Any] = {"TableName": name, **{k: props[k] for k in _TABLE_KEYS}}
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = [
                {k: gsi[k] for k in _GSI_KEYS} for gsi in props["GlobalSecondaryIndexes"]
            ]
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        try:
            dynamodb.create_table(**request)
        except dynamodb.exceptions.ResourceInUseException:
            # A restored state has it already (provisioning is idempotent); indexes declared
            # since are added, as a CloudFormation update of the deployed table would.
            _add_missing_indexes(dynamodb, request)
        else:
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        ctx.names[logical] = name
        table = dynamodb.describe_table(TableName=name)["Table"]
        ctx.attributes[(logical, "Arn")] = table["TableArn"]
        if "LatestStreamArn" in table:
            ctx.attributes[(logical, "StreamArn")] = table["LatestStreamArn"]


def _add_missing_indexes(dynamodb: Any, request: dict[str, Any]) -> None:
    name = request["TableName"]
    existing = {
        index["IndexName"]
        for index in dynamodb.describe_table(TableName=name)["Table"].get(
            "GlobalSecondaryIndexes", []
        )
    }
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] not in existing:
            keys = {key["AttributeName"] for key in index["KeySchema"]}
            dynamodb.update_table(
                TableName=name,
                AttributeDefinitions=[
                    d for d in request["AttributeDefinitions"] if d["AttributeName"] in keys
                ],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )


def create_topics(sns: Any, template: dict[str, Any], ctx: Context) -> None:
    for logical, resource in resources_of(template, "AWS::SNS::Topic").items():
        props = ctx.resolve(resource["Properties"])
        arn = sns.create_topic(Name=props["TopicName"])["TopicArn"]
        ctx.names[logical] = arn
        ctx.attributes[(logical, "TopicArn")] = arn


# Queue properties that are SQS attributes under the same name; RedrivePolicy is JSON.
_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")


def create_queues(sqs: Any, template: dict[str, Any], ctx: Context) -> None:
    """Queues in template order, so that a DLQ exists before the queue that redrives to it."""
    for logical, resource in resources_of(template, "AWS::SQS::Queue").items():
        props = ctx.resolve(resource["Properties"])
        attributes = {key: str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        ctx.names[logical] = url
        ctx.attributes[(logical, "Arn")] = arn["QueueArn"]
        ctx.attributes[(logical, "QueueName")] = props["QueueName"]
    for resource in resources_of(template, "AWS::SQS::QueuePolicy").values():
        props = ctx.resolve(resource["Properties"])
        for url in props["Queues"]:
            policy = json.dumps(props["PolicyDocument"])
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


# Subscription properties that are SNS subscription attributes (filter policies are JSON).
_SUBSCRIPTION_ATTRIBUTES = ("RawMessageDelivery", "FilterPolicyScope", "FilterPolicy")


def create_subscriptions(sns: Any, template: dict[str, Any], ctx: Context) -> None:
    for logical, resource in resources_of(template, "AWS::SNS::Subscription").items():
        props = ctx.resolve(resource["Properties"])
        attributes = {}
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if key in props:
                value = props[key]
                attributes[key] = (
                    json.dumps(value)
                    if isinstance(value, dict)
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
        arn = sns.subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        ctx.names[logical] = arn


def lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's spelling: ID, a Filter (the
    rule's Prefix, or every object), Expiration {Days}."""
    known = {"Id", "Status", "Prefix", "ExpirationInDays", "AbortIncompleteMultipartUpload"}
    unknown = sorted(set(rule) - known)
    if unknown:
        raise ValueError(f"lifecycle rule {rule.get('Id')}: {unknown} are not translated yet")
    translated: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        translated["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "AbortIncompleteMultipartUpload" in rule:
        translated["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return translated


def create_buckets(s3: Any, template: dict[str, Any], ctx: Context) -> None:
    """Buckets and the settings declared for them; a property not translated here fails
    provisioning, so the local bucket cannot quietly differ from the deployed one."""
    known = {
        "BucketName",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "BucketEncryption",
        "LifecycleConfiguration",
    }
    for logical, resource in resources_of(template, "AWS::S3::Bucket").items():
        props = ctx.resolve(resource["Properties"])
        unknown = sorted(set(props) - known)
        if unknown:
            raise ValueError(f"{logical}: devstack.infra does not translate {unknown} yet")
        name = props["BucketName"]
        location = (
            {}
            if ctx.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": ctx.region}}
        )
        s3.create_bucket(Bucket=name, **location)
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=props["OwnershipControls"]
            )
        if "BucketEncryption" in props:
            # CloudFormation lists rules by another name than the S3 API.
            rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                        for r in rules
                    ]
                },
            )
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
                },
            )
        ctx.names[logical] = name
        ctx.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"


def provision(session: Any, ctx: Context, template: dict[str, Any] | None = None) -> Context:
    template = template or load_template()
    create_tables(session.client("dynamodb", region_name=ctx.region), template, ctx)
    sns = session.client("sns", region_name=ctx.region)
    create_topics(sns, template, ctx)
    create_queues(session.client("sqs", region_name=ctx.region), template, ctx)
    create_subscriptions(sns, template, ctx)
    create_user_pools(session.client("cognito-idp", region_name=ctx.region), template, ctx)
    create_buckets(session.client("s3", region_name=ctx.region), template, ctx)
    return ctx


def environment(ctx: Context) -> dict[str, str]:
    """The app's environment for a provisioned stack: the settings' env var -> physical name."""
    env = {name: ctx.names[logical] for name, logical in registry.resource_env().items()}
    env.update({name: ctx.attributes[ref] for name, ref in registry.trigger_env().items()})
    # The pump reads partial batch responses, as the deployed mappings do.
    env[core_infra.BATCH_ITEM_FAILURES.env] = "true"
    return env


# ---- Cognito ------------------------------------------------------------------------------
# CloudFormation's properties of these types are the Create* API's parameters under the
# same names, except the renamed ones. A property not listed here fails provisioning, so
# that a declaration and its local translation cannot drift apart silently.
_USER_POOL_RENAMES = {"UserPoolName": "PoolName"}
_USER_POOL_KEYS = frozenset(
    {
        "AccountRecoverySetting",
        "AdminCreateUserConfig",
        "AliasAttributes",
        "AutoVerifiedAttributes",
        "DeletionProtection",
        "DeviceConfiguration",
        "EmailConfiguration",
        "MfaConfiguration",
        "Policies",
        "Schema",
        "UserAttributeUpdateSettings",
        "UsernameAttributes",
        "UsernameConfiguration",
        "UserPoolTags",
        "VerificationMessageTemplate",
    }
)
_USER_POOL_CLIENT_KEYS = frozenset(
    {
        "AccessTokenValidity",
        "AllowedOAuthFlows",
        "AllowedOAuthFlowsUserPoolClient",
        "AllowedOAuthScopes",
        "CallbackURLs",
        "ClientName",
        "EnableTokenRevocation",
        "ExplicitAuthFlows",
        "GenerateSecret",
        "IdTokenValidity",
        "LogoutURLs",
        "PreventUserExistenceErrors",
        "ReadAttributes",
        "RefreshTokenValidity",
        "SupportedIdentityProviders",
        "TokenValidityUnits",
        "UserPoolId",
        "WriteAttributes",
    }
)


def _api_params(
    logical: str, props: dict[str, Any], keys: frozenset[str], renames: dict[str, str]
) -> dict[str, Any]:
    unknown = sorted(set(props) - keys - set(renames))
    if unknown:
        raise ValueError(f"{logical}: devstack.infra does not translate {unknown} yet")
    return {renames.get(key, key): value for key, value in props.items()}


def create_user_pools(cognito: Any, template: dict[str, Any], ctx: Context) -> None:
    """User pools, then their clients. `Ref` of a pool is its id, of a client its id."""
    for logical, resource in resources_of(template, "AWS::Cognito::UserPool").items():
        props = ctx.resolve(resource["Properties"])
        params = _api_params(logical, props, _USER_POOL_KEYS, _USER_POOL_RENAMES)
        existing = _pool_named(cognito, params["PoolName"])
        ctx.names[logical] = existing or cognito.create_user_pool(**params)["UserPool"]["Id"]
    for logical, resource in resources_of(template, "AWS::Cognito::UserPoolClient").items():
        props = ctx.resolve(resource["Properties"])
        params = _api_params(logical, props, _USER_POOL_CLIENT_KEYS, {})
        existing = _client_named(cognito, params["UserPoolId"], params["ClientName"])
        ctx.names[logical] = (
            existing or cognito.create_user_pool_client(**params)["UserPoolClient"]["ClientId"]
        )


# A restored state has the pool and its client already: their ids, and so every token
# and test account, stay valid across restarts. Names are unique per template.
def _pool_named(cognito: Any, name: str) -> str | None:
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return str(pool["Id"])
    return None


def _client_named(cognito: Any, pool_id: str, name: str) -> str | None:
    pages = cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id)
    for page in pages:
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                return str(client["ClientId"])
    return None
