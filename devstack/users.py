"""A user and an ID token from the running local stack, for curl users.

Does what the mobile app does against Cognito: SignUp, then (locally, with no email to
click) AdminConfirmSignUp, then InitiateAuth with USER_PASSWORD_AUTH.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .stack import StackError

# Local only: moto's pool, on 127.0.0.1. Meets the pool's password policy.
DEFAULT_PASSWORD = "Tandem-local-1"


def read_contract(path: Path) -> dict[str, str]:
    try:
        contract: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        raise StackError(f"{path} does not exist: start the stack first (make run)") from None
    return contract


def cognito_client(contract: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "cognito-idp",
        endpoint_url=contract["awsEndpoint"],
        region_name=contract["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def id_token(contract: dict[str, str], email: str, password: str = DEFAULT_PASSWORD) -> str:
    """Signs `email` up (unless it exists), confirms it, signs in; returns the ID token."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    client = cognito_client(contract)
    pool_id, client_id = contract["userPoolId"], contract["userPoolClientId"]
    try:
        try:
            client.sign_up(
                ClientId=client_id,
                Username=email,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            client.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)
        except ClientError as error:
            if error.response["Error"]["Code"] != "UsernameExistsException":
                raise
        result = client.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except EndpointConnectionError:
        raise StackError(
            f"no local stack answers at {contract['awsEndpoint']}: start it first (make run)"
        ) from None
    except ClientError as error:
        raise StackError(f"Cognito refused: {error.response['Error']['Message']}") from None
    token: str = result["AuthenticationResult"]["IdToken"]
    return token
