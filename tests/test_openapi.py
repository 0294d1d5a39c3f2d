"""The OpenAPI document: every route is in it, it is valid OpenAPI 3.1, the committed copy
is current, and the app serves it and its docs page without a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Blueprint, Chalice, Response
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from chalicelib.core.openapi import (
    NOT_BLANK_TEXT_PATTERN,
    TEXT_PATTERN,
    Undocumented,
    operation,
)
from chalicelib.meta import service as meta
from deploy import openapi as committed
from tests.conftest import Api, User

ROOT = Path(__file__).resolve().parent.parent
SWAGGER_UI_DIST = ROOT / "node_modules" / "swagger-ui-dist"
VENDORED = ROOT / "chalicelib" / "meta" / "static" / "swagger-ui"
ALL_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return committed.document()


def _app_routes() -> dict[str, Any]:
    from app import app

    return app.routes


def test_every_route_with_a_view_is_an_operation(document: dict[str, Any]):
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in ALL_METHODS
    }
    routed = {
        (path, method)
        for path, entries in _app_routes().items()
        for method in entries
        if method not in ("HEAD", "OPTIONS")
    }
    assert routed == documented
    assert {"/openapi.json", "/docs", "/health"} <= {path for path, _ in documented}


def test_a_route_without_operation_fails_the_build():
    app = Chalice(app_name="undocumented")
    bp = Blueprint(__name__)

    @bp.route("/documented", methods=["GET"])
    @operation()
    def documented() -> Response:
        """Documented."""
        return Response(body="")

    @bp.route("/forgotten", methods=["GET"])
    def forgotten() -> Response:
        return Response(body="")

    app.register_blueprint(bp)
    with pytest.raises(Undocumented, match="GET /forgotten"):
        meta.document(app.routes)


def test_every_operation_has_a_summary_from_its_docstring(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["summary"], f"{method} {path}: its handler needs a docstring"
    create = document["paths"]["/tasks"]["post"]
    assert create["summary"] == "Create a task in one of the caller's projects."
    assert "422" in create["description"]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]):
    assert document["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(document).validate()


def test_the_validator_refuses_a_broken_document(document: dict[str, Any]):
    broken = json.loads(json.dumps(document))
    del broken["paths"]["/tasks"]["post"]["responses"]["201"]["description"]
    assert not OpenAPIV31SpecValidator(broken).is_valid()


def test_the_committed_copy_is_current(document: dict[str, Any]):
    on_disk = committed.DOCUMENT_FILE.read_text(encoding="utf-8")
    assert on_disk == committed.text(document), "docs/openapi.json is stale: run `make openapi`"


def test_the_docs_page_draws_swagger_ui_icons_from_files_not_data_urls():
    css, icons = committed.icon_overrides(committed.SWAGGER_CSS.read_text(encoding="utf-8"))
    assert committed.DOCS_CSS.read_text(encoding="utf-8") == css, "run `make openapi`"
    assert 'url("data:' not in css
    assert len(icons) >= 5
    for name, svg in icons.items():
        assert (committed.DOCS_CSS.parent / name).read_text(encoding="utf-8") == svg
        assert svg.startswith("<svg")
        assert name in meta.ASSETS


def _responses(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method]["responses"]
    return responses


def test_errors_are_problems_with_their_headers(document: dict[str, Any]):
    create = _responses(document, "/tasks", "post")
    assert set(create) == {"201", "400", "401", "409", "413", "415", "422", "429", "500", "503"}
    for status, response in create.items():
        if status.startswith(("4", "5")):
            assert list(response["content"]) == ["application/problem+json"]
            assert "X-Request-Id" in response["headers"]
    assert "Retry-After" in create["409"]["headers"]
    assert "Retry-After" in create["429"]["headers"]
    assert "WWW-Authenticate" in create["401"]["headers"]
    assert "validation-failed" in create["400"]["description"]

    update = _responses(document, "/tasks/{task_id}", "patch")
    assert {"404", "412", "422"} <= set(update)
    read = _responses(document, "/tasks/{task_id}", "get")
    assert {"200", "304", "404"} <= set(read)
    assert "412" not in read
    assert "503" not in read
    assert "401" not in _responses(document, "/health", "get")


def test_headers_of_the_contract(document: dict[str, Any]):
    def params(path: str, method: str) -> set[str]:
        return {
            p.get("$ref", "").rsplit("/", 1)[-1]
            for p in document["paths"][path][method]["parameters"]
        }

    assert {"X-Request-Id", "Idempotency-Key"} <= params("/tasks", "post")
    assert {"X-Request-Id", "If-Match"} <= params("/tasks/{task_id}", "put")
    assert "If-Match" in params("/tasks/{task_id}", "delete")
    assert "If-None-Match" in params("/tasks/{task_id}", "get")
    assert "Idempotency-Key" not in params("/tasks/{task_id}", "put")
    created = _responses(document, "/tasks", "post")["201"]["headers"]
    assert {"X-Request-Id", "ETag", "Location", "Idempotent-Replayed"} <= set(created)
    assert set(document["components"]["headers"]) >= {"ETag", "Location", "Retry-After"}


def test_security_is_the_cognito_bearer_except_on_public_routes(document: dict[str, Any]):
    scheme = document["components"]["securitySchemes"]["cognito"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert document["security"] == [{"cognito": []}]
    for path in ("/health", "/openapi.json", "/docs", "/docs/{asset}"):
        assert document["paths"][path]["get"]["security"] == []
    assert "security" not in document["paths"]["/tasks"]["get"]


def test_schemas_are_the_routes_marshmallow_schemas(document: dict[str, Any]):
    schemas = document["components"]["schemas"]
    task_in = schemas["TaskIn"]
    assert task_in["additionalProperties"] is False
    assert set(task_in["required"]) == {"title", "projectId"}
    assert task_in["properties"]["status"]["enum"] == ["Active", "Blocked", "Done", "Archived"]
    assert task_in["properties"]["targetDate"] == {
        "type": ["string", "null"],
        "format": "date",
        "default": None,
    }
    assert "required" not in schemas["TaskInPatch"]
    # Every field a dump schema declares is in every answer.
    assert set(schemas["TaskOut"]["required"]) == set(schemas["TaskOut"]["properties"])
    assert schemas["TaskOut"]["properties"]["createdAt"]["format"] == "date-time"
    page = schemas["TaskOutPage"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/TaskOut"}
    limit = {p["name"]: p for p in document["paths"]["/tasks"]["get"]["parameters"] if "name" in p}
    assert limit["limit"]["schema"]["maximum"] == 200
    assert limit["cursor"]["schema"]["type"] == "string"


@pytest.mark.parametrize(
    ("pattern", "text", "accepted"),
    [
        (TEXT_PATTERN, "plain text, tabs\tand\nnew lines, 日本語 😀", True),
        (TEXT_PATTERN, "a\x00b", False),
        (TEXT_PATTERN, "bell\x07", False),
        (NOT_BLANK_TEXT_PATTERN, " x ", True),
        (NOT_BLANK_TEXT_PATTERN, "\ufeff", True),  # not blank for Python's str.strip()
        (NOT_BLANK_TEXT_PATTERN, " \t\u3000\x85", False),
        (NOT_BLANK_TEXT_PATTERN, "x\x01", False),
    ],
)
def test_text_patterns_say_what_the_schemas_accept(pattern: str, text: str, accepted: bool):
    matches = Draft202012Validator({"type": "string", "pattern": pattern}).is_valid(text)
    assert matches is accepted


def test_the_app_serves_its_document_without_a_token(api: Api, document: dict[str, Any]):
    reply = api.get("/openapi.json")
    assert reply.status == 200, reply.json
    assert reply.header("Content-Type") == "application/json"
    assert reply.json == document
    assert reply.header("X-Request-Id")


def test_a_created_task_matches_the_documented_answer(
    api: Api, alice: User, project_of: Any, document: dict[str, Any]
):
    project = project_of(alice)
    reply = api.post("/tasks", alice, {"title": "My Task", "projectId": project["projectId"]})
    assert reply.status == 201
    Draft202012Validator(document["components"]["schemas"]["TaskOut"]).validate(reply.json)


def test_the_docs_page_and_its_assets_are_served_with_a_self_only_policy(api: Api):
    page = api.get("/docs")
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    policy = page.header("Content-Security-Policy") or ""
    assert "default-src 'self'" in policy
    assert "http" not in policy
    assert "unsafe" not in policy
    html = page.raw.decode()
    assert "docs/swagger-ui-bundle.js" in html
    assert "<script>" not in html
    for name in meta.ASSETS:
        reply = api.get(f"/docs/{name}")
        assert reply.status == 200, name
        assert reply.header("Content-Type") == meta.ASSETS[name].content_type
        assert reply.header("Content-Security-Policy") == policy
    missing = api.get("/docs/secrets.txt")
    assert missing.status == 404
    assert missing.header("Content-Type") == "application/problem+json"
    assert api.get("/docs/..%2Fservice.py").status == 404


def test_vendored_swagger_ui_is_the_locked_npm_package():
    """The vendored files are swagger-ui-dist's, unchanged, at the version package-lock.json
    pins (`npm ci` installs it); a version bump is `cp` of these files."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    installed = json.loads((SWAGGER_UI_DIST / "package.json").read_text())["version"]
    assert installed == locked, "run `npm ci`"
    for vendored in sorted(VENDORED.iterdir()):
        assert vendored.read_bytes() == (SWAGGER_UI_DIST / vendored.name).read_bytes(), vendored
    assert (VENDORED / "LICENSE").exists()
    assert (VENDORED / "NOTICE").exists()


def test_fields_state_what_their_own_validators_enforce(document: dict[str, Any]):
    """metadata={"openapi": ...}: found by schemathesis, whose valid requests got 400s."""
    schemas = document["components"]["schemas"]
    preferences = schemas["ProfileIn"]["properties"]["preferences"]
    assert preferences["maxProperties"] == 50
    assert preferences["propertyNames"]["pattern"] == TEXT_PATTERN
    assert schemas["NoteIn"]["properties"]["tags"]["maxItems"] == 20
    assert schemas["ProfileIn"]["properties"]["locale"]["pattern"].endswith("$")
