"""Creates the resources of infra/resources.yaml through boto3.

moto's CloudFormation cannot create every resource type Tandem uses (FACTS.md), so this
translates the one template into API calls instead of keeping a second definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chalicelib.core.settings import RESOURCE_ENV

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "resources.yaml"

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode")
_GSI_KEYS = ("IndexName", "KeySchema", "Projection")


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        template: dict[str, Any] = yaml.safe_load(handle)
    return template


@dataclass
class Context:
    stack_name: str
    region: str = "us-east-1"
    account_id: str = "123456789012"
    names: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Resolves the intrinsics the template uses for names: Fn::Sub and Ref."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._pseudo(m.group(1)), arg)
            if key == "Ref":
                return self._pseudo(arg)
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
        dynamodb.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        ctx.names[logical] = name


def provision(session: Any, ctx: Context, template: dict[str, Any] | None = None) -> Context:
    template = template or load_template()
    create_tables(session.client("dynamodb", region_name=ctx.region), template, ctx)
    create_user_pools(session.client("cognito-idp", region_name=ctx.region), template, ctx)
    return ctx


def environment(ctx: Context) -> dict[str, str]:
    """The app's environment for a provisioned stack: the settings' env var -> physical name."""
    return {env: ctx.names[logical] for env, logical in RESOURCE_ENV.items()}


# ---- Cognito (issue 4) ------------------------------------------------------------------
# CloudFormation's properties of these types are the Create* API's parameters under the
# same names, except the renamed ones. A property not listed here fails provisioning, so
# that infra/ and its local translation cannot drift apart silently.
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
        ctx.names[logical] = cognito.create_user_pool(**params)["UserPool"]["Id"]
    for logical, resource in resources_of(template, "AWS::Cognito::UserPoolClient").items():
        props = ctx.resolve(resource["Properties"])
        params = _api_params(logical, props, _USER_POOL_CLIENT_KEYS, {})
        client = cognito.create_user_pool_client(**params)["UserPoolClient"]
        ctx.names[logical] = client["ClientId"]
