"""`chalice package` and `chalice deploy` refuse, in one line and before creating
anything, what would leave a broken or half deployment (deploy/chalice_cli.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICE = str(Path(sys.executable).parent / "chalice")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TANDEM_"))}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env


def _chalice(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHALICE, "--project-dir", str(ROOT), *args],
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_package_refuses_placeholder_arns(tmp_path):
    out = tmp_path / "out"
    line = _one_line(
        _chalice(tmp_path, "package", "--stage", "dev", str(out), AWS_DEFAULT_REGION="us-east-1")
    )
    assert "no real ARN for TANDEM_USER_POOL_ARN" in line
    assert "TANDEM_TASKS_STREAM_ARN" in line
    assert "python -m deploy.stage up --stage dev" in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AWS_DEFAULT_REGION": "us-east-1"}, "no AWS credentials"),
        ({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, "no AWS region"),
        (
            {
                "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "x",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
            "no real ARN",
        ),
    ],
)
def test_deploy_refuses_in_one_line_and_changes_nothing(tmp_path, env, expected):
    deployed = ROOT / ".chalice" / "deployed" / "dev.json"
    before = deployed.read_bytes() if deployed.exists() else None
    line = _one_line(_chalice(tmp_path, "deploy", "--stage", "dev", **env))
    assert line.startswith("chalice deploy --stage dev: ")
    assert expected in line
    assert "nothing was changed" in line
    assert (deployed.read_bytes() if deployed.exists() else None) == before
