"""Rules of the architecture, checked on the code itself."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICELIB = ROOT / "chalicelib"
SERVICES = sorted(p.name for p in CHALICELIB.iterdir() if (p / "models.py").exists())

# Runs in a fresh interpreter: an audit hook turns any socket use into an error, then the
# app is imported, and what it left behind is reported.
_IMPORT_PROBE = """
import json, sys
def no_network(event, args):
    if event.startswith("socket.") and event not in ("socket.gethostname",):
        raise RuntimeError("network at import: " + event)
sys.addaudithook(no_network)
import app
from chalicelib.core import wiring
import pynamodb.models
from chalicelib.core.models import SharedConnectionModel
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
models = list(subclasses(pynamodb.models.Model))
print(json.dumps({
    "clients": wiring.built(),
    "connections": sorted(m.__name__ for m in models if m._connection is not None),
    "models": sorted(m.__name__ for m in models if m.__name__ != "SharedConnectionModel"),
    "shared": sorted(
        m.__name__ for m in models
        if m.__name__ != "SharedConnectionModel" and issubclass(m, SharedConnectionModel)
    ),
    "modules": sorted(n for n in ("jwt", "boto3", "websockets", "moto") if n in sys.modules),
}))
"""


def test_importing_the_app_does_no_io_and_builds_no_client():
    env = {**os.environ, "TANDEM_STAGE": "dev", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["clients"] == []
    assert state["connections"] == []
    assert "Task" in state["models"]  # the probe saw the models
    # Every model's requests go through the process's one connection (core.models).
    assert state["shared"] == state["models"], (
        "derive every model from chalicelib.core.models.SharedConnectionModel, not "
        "pynamodb's Model: each Model class would build its own botocore session"
    )
    assert state["modules"] == []  # no AWS SDK client library, no JWT library, no test tool


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_scan_anywhere_in_the_lambda_code():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _python_files(CHALICELIB)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.scan\(|[\"']Scan[\"']|dynamodb:Scan", line)
    ]
    assert offenders == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_service_touches_another_services_models():
    """Cross-service reads go through the owner's public service functions, never its
    models (and so never its table)."""
    assert {"projects", "tasks", "notes"} <= set(SERVICES)
    offenders = []
    for path in _python_files(CHALICELIB):
        owner = path.relative_to(CHALICELIB).parts[0]
        for name in _imports(path):
            match = re.match(r"chalicelib\.(\w+)\.(models|cascade|events)\b", name)
            if match and match.group(1) not in (owner, "core"):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_app_py_only_creates_the_app_and_registers_blueprints():
    tree = ast.parse((ROOT / "app.py").read_text())
    statements = [n for n in tree.body if not isinstance(n, ast.Expr)]  # docstring
    kinds = {type(n).__name__ for n in statements}
    assert kinds <= {"Import", "ImportFrom", "Assign", "Expr"}
    calls = [ast.unparse(n) for n in tree.body if isinstance(n, ast.Expr)][1:]
    allowed = r"app\.(register_blueprint|register_middleware|experimental_feature_flags)"
    # ... and the one guard that keeps `chalice local` from serving unverified tokens, and
    # the OPTIONS and HEAD routes derived from the blueprints' routes (core.transport).
    extra = {"chalice_local.guard()", "add_transport_routes(app)"}
    assert all(re.match(allowed, c) or c in extra for c in calls), calls


def test_every_route_but_the_public_ones_has_the_cognito_authorizer():
    from app import app

    # The docs page's files (/docs/{asset}) are public with it.
    public = {"/health", "/openapi.json", "/docs", "/docs/{asset}"}
    unguarded = [
        f"{method} {path}"
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        # OPTIONS is a CORS preflight, which carries no token; the router answers it.
        if path not in public and method != "OPTIONS" and entry.authorizer is None
    ]
    assert unguarded == []
    assert len(app.routes) >= 7
