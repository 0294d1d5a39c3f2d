"""What a sign-in costs the local Cognito (devstack/moto_fixes/cognito.py), in-process.

Run: .venv/bin/python bench/cognito_sign_in.py [sign-ins-per-flow]

USER_SRP_AUTH makes the server do four 3072-bit modular exponentiations per sign-in
(Cognito's SRP-6a); USER_PASSWORD_AUTH compares a string. Timed is the server side only:
InitiateAuth plus RespondToAuthChallenge through boto3 against moto in-process, with
pycognito computing the client's side between the two, untimed. Bounded: N sign-ins per
flow. Writes docs/benchmarks.md (section "Cognito sign-in").
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update(
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from pycognito.aws_srp import AWSSRP  # noqa: E402

from bench.report import write_section  # noqa: E402
from devstack import moto_fixes  # noqa: E402
from devstack.infra import Context, provision  # noqa: E402

EMAIL = "bench@example.com"
PASSWORD = "Tandem-bench-1"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    moto_fixes.apply()
    timings: dict[str, list[float]] = {"USER_SRP_AUTH": [], "USER_PASSWORD_AUTH": []}
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        ctx = provision(session, Context(stack_name="tandem-bench"))
        cognito = session.client("cognito-idp")
        pool_id, client_id = ctx.names["UserPool"], ctx.names["UserPoolClient"]
        cognito.sign_up(
            ClientId=client_id,
            Username=EMAIL,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": EMAIL}],
        )
        cognito.admin_confirm_sign_up(UserPoolId=pool_id, Username=EMAIL)
        for _ in range(count):
            srp = AWSSRP(EMAIL, PASSWORD, pool_id, client_id, client=cognito)
            params = srp.get_auth_params()
            started = time.perf_counter()
            challenge = cognito.initiate_auth(
                ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params
            )
            elapsed = time.perf_counter() - started
            responses = srp.process_challenge(challenge["ChallengeParameters"], params)
            started = time.perf_counter()
            cognito.respond_to_auth_challenge(
                ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
            )
            timings["USER_SRP_AUTH"].append(elapsed + time.perf_counter() - started)
        for _ in range(count):
            started = time.perf_counter()
            cognito.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": EMAIL, "PASSWORD": PASSWORD},
            )
            timings["USER_PASSWORD_AUTH"].append(time.perf_counter() - started)

    lines = [
        f"`.venv/bin/python bench/cognito_sign_in.py {count}`: {count} sign-ins per flow, "
        "the server's side only (moto in-process, through boto3), load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| flow | p50 | max |",
        "|---|---|---|",
        *[
            f"| {flow} | {statistics.median(v) * 1000:.1f} ms | {max(v) * 1000:.1f} ms |"
            for flow, v in timings.items()
        ],
    ]
    write_section("Cognito sign-in", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
