"""Users of the stack's Cognito user pool, as an operator manages them."""

from __future__ import annotations

from typing import Any

from .target import CliError, Target


def _attributes(user: dict[str, Any]) -> dict[str, str]:
    attributes = user.get("Attributes") or user.get("UserAttributes") or []
    return {a["Name"]: a["Value"] for a in attributes}


def summary(user: dict[str, Any]) -> dict[str, Any]:
    attributes = _attributes(user)
    created = user.get("UserCreateDate")
    return {
        "email": attributes.get("email", user["Username"]),
        "sub": attributes.get("sub", ""),
        "status": user.get("UserStatus", ""),
        "enabled": bool(user.get("Enabled", True)),
        "created": created.isoformat(timespec="seconds") if created else "",
    }


def create(target: Target, email: str, password: str) -> dict[str, Any]:
    """A confirmed user with a permanent password, no invitation email sent."""
    cognito = target.client("cognito-idp")
    pool_id, _ = target.user_pool
    try:
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
    except cognito.exceptions.UsernameExistsException:
        raise CliError(f"{email} exists already") from None
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=email, Password=password, Permanent=True
    )
    return get(target, email)


def get(target: Target, email: str) -> dict[str, Any]:
    cognito = target.client("cognito-idp")
    pool_id, _ = target.user_pool
    try:
        return summary(cognito.admin_get_user(UserPoolId=pool_id, Username=email))
    except cognito.exceptions.UserNotFoundException:
        raise CliError(f"no user {email}") from None


def listing(target: Target, limit: int) -> list[dict[str, Any]]:
    cognito = target.client("cognito-idp")
    pool_id, _ = target.user_pool
    found: list[dict[str, Any]] = []
    token: str | None = None
    while len(found) < limit:
        page = cognito.list_users(
            UserPoolId=pool_id,
            Limit=min(60, limit - len(found)),
            **({"PaginationToken": token} if token else {}),
        )
        found += [summary(u) for u in page.get("Users", [])]
        token = page.get("PaginationToken")
        if not token:
            break
    return found


def set_enabled(target: Target, email: str, enabled: bool) -> None:
    """Disabling also signs the user out everywhere: their refresh tokens stop working;
    an ID token already issued lives until it expires (60 minutes)."""
    cognito = target.client("cognito-idp")
    pool_id, _ = target.user_pool
    get(target, email)
    if enabled:
        cognito.admin_enable_user(UserPoolId=pool_id, Username=email)
        return
    cognito.admin_disable_user(UserPoolId=pool_id, Username=email)
    cognito.admin_user_global_sign_out(UserPoolId=pool_id, Username=email)


def delete(target: Target, email: str) -> dict[str, Any]:
    """Starts the account's deletion the way the user would (DELETE /me): a job that
    deletes everything of the user in every service, then the sign-in. The operator
    signs in as the user with a password of its own (the user is going anyway); the
    deletion job, not the CLI, removes the Cognito user last. Answers the job."""
    import secrets

    from . import api

    cognito = target.client("cognito-idp")
    pool_id, _ = target.user_pool
    user = get(target, email)
    if not user["enabled"]:
        cognito.admin_enable_user(UserPoolId=pool_id, Username=email)
    # Meets the pool's policy (12+ characters, upper, lower, digit).
    password = "Del-" + secrets.token_urlsafe(24) + "a1A"
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=email, Password=password, Permanent=True
    )
    id_token = token(target, email, password)
    job: dict[str, Any] = api.call(target.api_url, id_token, "DELETE", "/me")
    return {**job, "token": id_token, "sub": user["sub"]}


def wait_for_job(target: Target, id_token: str, job_id: str, timeout: float) -> str:
    """The job's final status, or "gone" once the deletion removed even the job (the
    user's token is then refused everywhere)."""
    import time

    from . import api

    deadline = time.monotonic() + timeout
    while True:
        try:
            job = api.call(target.api_url, id_token, "GET", f"/jobs/{job_id}")
        except CliError as error:
            if ": 401 " in str(error) or ": 404 " in str(error):
                return "gone"
            raise
        if job.get("status") in ("succeeded", "failed"):
            return str(job["status"])
        if time.monotonic() > deadline:
            raise CliError(f"job {job_id} is still {job.get('status')} after {timeout:g} s")
        time.sleep(1)


def token(target: Target, email: str, password: str) -> str:
    """The user's ID token (USER_PASSWORD_AUTH, as the mobile app's client allows)."""
    cognito = target.client("cognito-idp")
    _, client_id = target.user_pool
    try:
        answer = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except (cognito.exceptions.NotAuthorizedException, cognito.exceptions.UserNotFoundException):
        raise CliError(f"{email}: wrong email or password, or the user is disabled") from None
    result = answer.get("AuthenticationResult")
    if not result:
        raise CliError(f"{email} must answer a challenge first: {answer.get('ChallengeName')}")
    return str(result["IdToken"])
