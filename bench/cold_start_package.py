"""Cold start of the deployed artifact: Tandem's packaged zip (`make package`: bytecode
compiled unchecked-hash, deploy/bytecode.py) against Chalice's default packaging of the
same code (a plain `chalice package`, no bytecode), measured in one run.

    .venv/bin/python bench/cold_start_package.py [runs]

Each zip is unpacked into a directory of its own, which is then the only place modules
come from besides the standard library (`python -S`, like /var/task plus the runtime),
and Python may write no bytecode there (/var/task is read-only). Runs alternate between
the two, so the machine's load hits both alike. Per run:
- `import app`: what every new Lambda instance pays before its first event (init);
- the first request after it: `GET /projects` through the REST handler against an
  embedded AWS (moto's server, started here on 127.0.0.1), which builds the botocore
  session, the DynamoDB client and the model's connection (cold), then a second one (warm).
CPU time (user + system) is reported besides wall time: Lambda gives a function CPU in
proportion to its memory (one vCPU at 1,769 MB), so CPU seconds here are what sizes the
memory. Writes docs/benchmarks.md, section "Cold start of the package".
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402

# One vCPU at 1,769 MB (AWS Lambda's documentation); CPU share is proportional below it.
FULL_VCPU_MB = 1769

PROBE = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.environ["BENCH_TASK"])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
started, cpu0 = time.perf_counter(), cpu()
import app
imported, cpu1 = time.perf_counter(), cpu()
result = {"import": imported - started, "import_cpu": cpu1 - cpu0}
if os.environ.get("BENCH_EVENT"):
    event = json.loads(os.environ["BENCH_EVENT"])
    class Context:
        function_name = "api_handler"; aws_request_id = "bench"; memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        def get_remaining_time_in_millis(self): return 29000
    for name in ("first", "second"):
        t0, c0 = time.perf_counter(), cpu()
        answer = app.app(event, Context())
        result[name] = time.perf_counter() - t0
        result[name + "_cpu"] = cpu() - c0
        result[name + "_status"] = answer["statusCode"]
print(json.dumps(result))
"""


def _unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into


def _zips(scratch: Path) -> dict[str, Path]:
    from deploy.package import package, run_chalice_package

    default = scratch / "default"
    run_chalice_package("dev", default)
    ours = package("dev", out=scratch / "ours", work=scratch / "work")
    return {"chalice default": default / "deployment.zip", "tandem package": ours.zip_path}


def _moto(scratch: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "devstack.moto_server", "--fd", str(listener.fileno())],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(listener.fileno(),),
    )
    listener.close()
    assert child.stdout is not None
    json.loads(child.stdout.readline())
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    import boto3

    from devstack.infra import Context, environment, provision

    ctx = provision(boto3.Session(), Context(stack_name="tandem-dev", region="us-east-1"))
    return child, endpoint, environment(ctx)


def _event() -> dict[str, Any]:
    claims = {"sub": "bench-user", "aud": "bench-client", "token_use": "id"}
    return {
        "resource": "/projects",
        "path": "/projects",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "bench"},
        "multiValueHeaders": {"Accept": ["application/json"], "Host": ["bench"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/projects",
            "httpMethod": "GET",
            "path": "/api/projects",
            "stage": "api",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": {"claims": claims},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def _run(task: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE],
        cwd=task,
        env={**env, "BENCH_TASK": str(task)},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    scratch = Path(tempfile.mkdtemp(prefix="tandem-cold-"))
    child = None
    try:
        zips = _zips(scratch)
        tasks = {
            name: _unpack(path, scratch / f"task-{i}")
            for i, (name, path) in enumerate(zips.items())
        }
        child, _, stack_env = _moto(scratch)
        from deploy.functions import sentinel_environment

        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONDONTWRITEBYTECODE": "1",
            "TANDEM_STAGE": "dev",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_SERVICE_NAME": "tandem",
            **sentinel_environment(),
            **stack_env,
            "TANDEM_USER_POOL_CLIENT_ID": "bench-client",
        }
        request_env = {**env, "BENCH_EVENT": json.dumps(_event())}
        for task in tasks.values():
            _run(task, env)  # the file cache, warm as the runtime's disk is
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in tasks}
        for _ in range(runs):
            for name, task in tasks.items():
                samples[name].append(_run(task, request_env))
    finally:
        if child is not None:
            child.kill()
            child.wait()
        shutil.rmtree(scratch, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[name])

    default, ours = "chalice default", "tandem package"
    ratio = median(ours, "import") / median(default, "import")
    lines = [
        f"`.venv/bin/python bench/cold_start_package.py {runs}`: each zip unpacked alone, "
        f"`python -S`, no bytecode written, {runs} alternating runs, medians. First request: "
        "`GET /projects` through the REST handler against moto's server (a new botocore "
        "session, client and connection); second: the same again, warm.",
        "",
        "| artifact | `import app` | its CPU | first request | its CPU | second request |",
        "|---|---|---|---|---|---|",
    ]
    for name in (default, ours):
        lines.append(
            f"| {name} | {median(name, 'import') * 1000:.0f} ms "
            f"| {median(name, 'import_cpu') * 1000:.0f} ms "
            f"| {median(name, 'first') * 1000:.0f} ms "
            f"| {median(name, 'first_cpu') * 1000:.0f} ms "
            f"| {median(name, 'second') * 1000:.1f} ms |"
        )
    statuses = {int(s["first_status"]) for name in samples for s in samples[name]}
    init_cpu = median(ours, "import_cpu") + median(ours, "first_cpu")
    lines += [
        "",
        f"- **import ratio, tandem package / chalice default: {ratio:.2f}** "
        f"(first request status {sorted(statuses)})",
        "- at 128 MB a function gets 128/1769 of a vCPU, so the package's init plus first "
        f"request, {init_cpu * 1000:.0f} ms of CPU here, would take about "
        f"{init_cpu * FULL_VCPU_MB / 128:.1f} s; at 512 MB about "
        f"{init_cpu * FULL_VCPU_MB / 512:.1f} s, at 1,024 MB about "
        f"{init_cpu * FULL_VCPU_MB / 1024:.1f} s (assuming this machine's core is like "
        "Lambda's vCPU)",
    ]
    write_section("Cold start of the package", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
