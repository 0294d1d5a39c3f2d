"""`make package`: the deployable SAM template and zip, in build/package/.

`chalice package` runs twice. The first, plain run shows what the app declares: its
functions, their roles, their event mappings, the API and its authorizer. From that and
the services' declarations (core.registry) deploy/merge.py writes a merge template, and the
second run merges it in:

- the declared resources, and deploy/stack.yaml (the alerts topic, parameters, outputs);
- per function (the functions are discovered, not listed here): its role's policy from
  its declaration (deploy/policies.py), a log group with retention, errors/throttles
  alarms (deploy/alarms.py), its environment variables as Refs to the resources, and for
  event mappings the options Chalice has no setting for (partial batch responses; stream
  retries, bisect, on-failure destination) plus a stream iterator-age alarm;
- a depth alarm per dead-letter queue;
- API Gateway's own error answers as problem+json (deploy/gateway_responses.py).

Values the app reads at import (the user pool ARN of the authorizer, the event-source
ARNs) are set to sentinels for both runs; wherever a sentinel shows up in the plain
template, the merge template puts the matching `Fn::GetAtt` of the template's resource.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .bytecode import compile_zip
from .chalice_config import deployed_stage
from .functions import sentinel_environment
from .merge import build_merge_template
from .template import ROOT, STAGES, PackagingError, Template

DEFAULT_OUT = ROOT / "build" / "package"
DEFAULT_WORK = ROOT / "build" / "package-work"


def _chalice() -> str:
    beside = Path(sys.executable).parent / "chalice"
    found = str(beside) if beside.exists() else shutil.which("chalice")
    if not found:
        raise PackagingError("chalice is not installed: run `make venv`")
    return found


def run_chalice_package(
    stage: str, out: Path, merge_template: Path | None = None, project: Path = ROOT
) -> None:
    # No credentials are needed, but a region is; the template itself uses AWS::Region.
    env = {**os.environ, **sentinel_environment()}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if out.exists():
        shutil.rmtree(out)
    command = [_chalice(), "package", "--stage", stage]
    if merge_template is not None:
        command += ["--merge-template", str(merge_template)]
    subprocess.run([*command, str(out)], cwd=project, env=env, check=True)


@dataclass(frozen=True)
class Package:
    template_path: Path
    zip_path: Path
    seconds: float

    def template(self) -> Template:
        loaded: Template = json.loads(self.template_path.read_text())
        return loaded


def package(stage: str = "dev", out: Path = DEFAULT_OUT, work: Path = DEFAULT_WORK) -> Package:
    if deployed_stage(ROOT, stage):
        raise PackagingError(
            f"stage {stage} is deployed with `chalice deploy` here (.chalice/stages/{stage}.json "
            "holds its ARNs): one stage, one path; see docs/deploy.md"
        )
    started = time.monotonic()
    plain_dir = work / stage / "plain"
    run_chalice_package(stage, plain_dir)
    plain: Template = json.loads((plain_dir / "sam.json").read_text())
    (plain_dir / "deployment.zip").unlink()  # the same as the second run's
    merge_path = work / stage / "merge.json"
    merge_path.write_text(json.dumps(build_merge_template(plain, stage), indent=2))
    run_chalice_package(stage, out, merge_path)
    runtime = {
        resource["Properties"]["Runtime"]
        for resource in plain["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    if len(runtime) != 1:
        raise PackagingError(f"the functions should share one runtime, not {sorted(runtime)}")
    compile_zip(out / "deployment.zip", runtime.pop())
    return Package(out / "sam.json", out / "deployment.zip", time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default="dev", choices=STAGES)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        result = package(args.stage, args.out)
    except PackagingError as error:
        print(f"package: {error}", file=sys.stderr)
        return 1
    functions = [
        logical_id
        for logical_id, resource in result.template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    size_mb = result.zip_path.stat().st_size / 1e6
    print(
        f"package: {result.template_path} ({len(functions)} functions: {', '.join(functions)}), "
        f"{result.zip_path.name} {size_mb:.1f} MB, {result.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
