"""The API's description, used as its users use it, against the local stack (`make run`
on free ports): the docs page in a real headless Chromium, schemathesis with every check,
and clients generated from GET /openapi.json (Python and TypeScript) driving the seed flow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_local_stack import PASSWORD, SEED_TASK, Account, call, sign_up_and_in

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE_BIN = ROOT / "node_modules" / ".bin"
# docs/docs-page.png is a copy of it.
SCREENSHOT = ROOT / "build" / "docs-page.png"
# schemathesis in make test: its fuzzing and stateful phases, a few cases per operation,
# every check, a fixed seed so that a failure replays; `make fuzz` runs every phase and
# thousands of cases (docs/fuzzing.md).
FUZZ_EXAMPLES = 5
FUZZ_PHASES = "fuzzing,stateful"
FUZZ_SEED = 20261202
FUZZ_TIMEOUT = 240
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)


@pytest.fixture(scope="module")
def document(contract: dict[str, str]) -> dict[str, Any]:
    reply = call(contract, "GET", "/openapi.json", None)
    assert reply.status == 200
    served: dict[str, Any] = reply.json
    return served


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, item in document["paths"].items() for m in item]


# ---- the docs page in Chromium --------------------------------------------------------


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser, "headless Chromium is needed: apt-get install chromium chromium-driver"
    assert driver, "chromedriver is needed: apt-get install chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        session.set_page_load_timeout(180)
        yield session
    finally:
        session.quit()


def _network_events(session: Any) -> list[dict[str, Any]]:
    return [json.loads(entry["message"])["message"] for entry in session.get_log("performance")]


def test_the_docs_page_renders_every_operation_in_chromium(
    chromium: Any, contract: dict[str, str], document: dict[str, Any]
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    origin = contract["apiUrl"]
    chromium.get(f"{origin}/docs")
    operations = _operations(document)
    # Generous waits: under a loaded CI machine Swagger UI takes long to render.
    WebDriverWait(chromium, 180).until(
        lambda s: len(s.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(operations)
    )
    shown = {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in chromium.find_elements(By.CSS_SELECTOR, ".opblock")
    }
    assert shown == set(operations)
    assert "Tandem API" in chromium.find_element(By.CSS_SELECTOR, ".info .title").text
    SCREENSHOT.parent.mkdir(exist_ok=True)
    chromium.save_screenshot(str(SCREENSHOT))
    # Open one operation, so the page also renders schemas and its select controls.
    chromium.find_element(By.CSS_SELECTOR, "#operations-tasks-create_task button").click()
    WebDriverWait(chromium, 120).until(
        lambda s: s.find_elements(By.CSS_SELECTOR, "#operations-tasks-create_task .responses-table")
    )
    time.sleep(0.5)  # any request the click started

    events = _network_events(chromium)
    # From the page's own request on: before it, the browser loads its new-tab page.
    start = next(
        i
        for i, e in enumerate(events)
        if e["method"] == "Network.requestWillBeSent"
        and e["params"]["request"]["url"] == f"{origin}/docs"
    )
    events = events[start:]
    requested = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    assert requested, "the performance log recorded no request"
    assert [url for url in requested if not url.startswith(origin + "/")] == []
    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed"]
    assert failed == []
    statuses = {
        e["params"]["response"]["url"]: e["params"]["response"]["status"]
        for e in events
        if e["method"] == "Network.responseReceived"
    }
    assert statuses[f"{origin}/openapi.json"] == 200
    assert {url: s for url, s in statuses.items() if s >= 400} == {}
    # Console errors, uncaught exceptions and CSP violations all land here as SEVERE.
    logged = chromium.get_log("browser")
    errors = [e for e in logged if e["level"] == "SEVERE" or "Refused" in e["message"]]
    assert errors == []


# ---- schemathesis ---------------------------------------------------------------------


def run_schemathesis(
    contract: dict[str, str], token: str, workdir: Path, *extra: str, timeout: int = FUZZ_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """schemathesis with every check, our settings and hooks (tests/e2e/schemathesis.*)."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_COLOR"] = "1"
    api = contract["apiUrl"]
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(ROOT / "tests" / "e2e" / "schemathesis.toml"),
        "run",
        f"{api}/openapi.json",
        "--url",
        api,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        # It would erase the fuzzer's own account mid-run, leaving only 401s to see
        # (tests/test_accounts*.py cover it).
        "--exclude-operation-id",
        "delete_me",
        *extra,
    ]
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


def generated_cases(output: str) -> int:
    found = re.search(r"(\d+) generated", output)
    assert found, output[-3000:]
    return int(found.group(1))


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
    contract: dict[str, str], tmp_path: Path, document: dict[str, Any]
):
    fuzzer = sign_up_and_in(contract, "fuzzer@example.com")
    result = run_schemathesis(
        contract,
        fuzzer.id_token,
        tmp_path,
        "--max-examples",
        str(FUZZ_EXAMPLES),
        "--seed",
        str(FUZZ_SEED),
        "--phases",
        FUZZ_PHASES,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    summary = re.search(r"Test cases:\s*\n\s*(.+)", output)
    print(f"schemathesis: {summary.group(1) if summary else '?'}")
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    assert selected, output[-3000:]
    chosen, known, tested = (int(n) for n in selected.groups())
    assert chosen == tested, selected.group(0)  # every selected operation was tested
    assert chosen == known - 1  # all but DELETE /me
    assert known >= len(_operations(document)) - 1
    assert generated_cases(output) >= 3 * len(_operations(document))


# ---- generated clients ------------------------------------------------------------------


@pytest.fixture
def seed_user(contract: dict[str, str], request: pytest.FixtureRequest) -> Account:
    return sign_up_and_in(contract, f"{request.node.name[:40]}@example.com")


def test_a_generated_python_client_drives_the_seed_flow(
    contract: dict[str, str], seed_user: Account, tmp_path: Path
):
    package = tmp_path / "tandem_client"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    generated = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--url",
            f"{contract['apiUrl']}/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(package),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout

    sys.path.insert(0, str(tmp_path))
    try:
        _python_seed_flow(contract, seed_user)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "tandem_client"]:
            del sys.modules[name]


def _python_seed_flow(contract: dict[str, str], user: Account) -> None:
    from tandem_client import AuthenticatedClient
    from tandem_client.api.projects import create_project
    from tandem_client.api.tasks import (
        create_task,
        delete_task,
        get_task,
        list_tasks,
        update_task_patch,
    )
    from tandem_client.models import (
        Problem,
        ProjectIn,
        TaskIn,
        TaskInPatch,
        TaskInPatchStatus,
        TaskInStatus,
        TaskOut,
        TaskOutPage,
    )

    # Sign in: the user pool's InitiateAuth, as a mobile app does (sign_up_and_in did).
    client = AuthenticatedClient(base_url=contract["apiUrl"], token=user.id_token)
    project = create_project.sync_detailed(client=client, body=ProjectIn(name="Inbox"))
    assert project.status_code == 201, project.content
    project_id = project.parsed.project_id

    seed = TaskIn(
        title=SEED_TASK["title"],
        project_id=project_id,
        status=TaskInStatus.ACTIVE,
        target_date=None,
        start_date=None,
        is_completed=False,
    )
    created = create_task.sync_detailed(client=client, body=seed)
    assert created.status_code == 201, created.content
    task = created.parsed
    assert isinstance(task, TaskOut)
    assert {key: task.to_dict()[key] for key in SEED_TASK} == SEED_TASK
    etag = created.headers["ETag"]
    assert etag == f'"{task.version}"'

    listed = list_tasks.sync(client=client, project_id=project_id)
    assert isinstance(listed, TaskOutPage)
    assert [t.task_id for t in listed.items] == [task.task_id]
    assert listed.next_cursor is None

    patch = TaskInPatch(status=TaskInPatchStatus.DONE, is_completed=True)
    patched = update_task_patch.sync_detailed(
        client=client, task_id=task.task_id, body=patch, if_match=etag
    )
    assert patched.status_code == 200, patched.content
    assert patched.parsed.version == task.version + 1
    assert patched.parsed.status == "Done"
    stale = update_task_patch.sync_detailed(
        client=client, task_id=task.task_id, body=TaskInPatch(title="stale"), if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, Problem)

    deleted = delete_task.sync_detailed(client=client, task_id=task.task_id)
    assert deleted.status_code == 204
    gone = get_task.sync_detailed(client=client, task_id=task.task_id)
    assert gone.status_code == 404
    assert gone.parsed.type_.endswith(":not-found")


def test_a_generated_typescript_client_drives_the_seed_flow(
    contract: dict[str, str], seed_user: Account, tmp_path: Path
):
    assert (NODE_BIN / "tsc").exists(), "run `npm ci` (make test does)"
    work = tmp_path / "ts"
    work.mkdir()
    shutil.copy(ROOT / "clients" / "typescript" / "seed_flow.ts", work)
    (work / "node_modules").symlink_to(ROOT / "node_modules")
    (work / "package.json").write_text('{"type": "module"}\n')

    def node_tool(*command: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            command, cwd=work, capture_output=True, text=True, timeout=180, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    node_tool(
        str(NODE_BIN / "openapi-typescript"),
        f"{contract['apiUrl']}/openapi.json",
        "--output",
        "tandem.d.ts",
        "--default-non-nullable",
        "false",
    )
    # --strict: a body or answer that does not fit the document's types fails here.
    node_tool(
        str(NODE_BIN / "tsc"),
        "--strict",
        "--skipLibCheck",
        "--module",
        "nodenext",
        "--target",
        "es2022",
        "--types",
        "node",
        "--outDir",
        "out",
        "seed_flow.ts",
    )
    env = {
        **os.environ,
        "API_URL": contract["apiUrl"],
        "COGNITO_URL": contract["awsEndpoint"],
        "CLIENT_ID": contract["userPoolClientId"],
        "EMAIL": seed_user.email,
        "PASSWORD": PASSWORD,
    }
    answer = json.loads(node_tool("node", "out/seed_flow.js", env=env).strip().splitlines()[-1])
    assert answer["ok"] is True
    reply = call(contract, "GET", f"/tasks/{answer['taskId']}", seed_user.id_token)
    assert reply.status == 404
