"""Projects routes: the contract of the API (README.md), success and failure paths."""

from __future__ import annotations

import re

import pytest

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_create_returns_the_resource_with_version_etag_and_location(api, alice):
    reply = api.post("/projects", alice, {"name": "Home", "color": "#12abEF"})
    assert reply.status == 201
    body = reply.json
    assert ULID.match(body["projectId"])
    assert body["name"] == "Home"
    assert body["color"] == "#12abEF"
    assert body["description"] is None
    assert body["archived"] is False
    assert body["version"] == 1
    assert TIMESTAMP.match(body["createdAt"])
    assert body["createdAt"] == body["updatedAt"]
    assert reply.header("ETag") == '"1"'
    assert reply.header("Location") == f"/projects/{body['projectId']}"
    assert set(body) == {
        "projectId",
        "name",
        "description",
        "color",
        "archived",
        "version",
        "createdAt",
        "updatedAt",
    }
    fetched = api.get(f"/projects/{body['projectId']}", alice)
    assert fetched.status == 200
    assert fetched.json == body


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "name", "Missing data for required field."),
        ({"name": ""}, "name", None),
        ({"name": "   "}, "name", "Must not be blank."),
        ({"name": "x" * 201}, "name", None),
        ({"name": 5}, "name", "Not a valid string."),
        ({"name": None}, "name", "Field may not be null."),
        ({"name": "a", "description": "d" * 10_001}, "description", None),
        ({"name": "a", "color": "red"}, "color", "Must be a #RRGGBB colour."),
        ({"name": "a", "archived": "yes"}, "archived", "Not a valid boolean."),
        ({"name": "a", "archived": 1}, "archived", "Not a valid boolean."),
        ({"name": "a", "owner": "me"}, "owner", "Unknown field."),
        ({"name": "a", "projectId": "01J00000000000000000000000"}, "projectId", "Read-only field."),
        ({"name": "a", "userId": "someone-else"}, "userId", "Read-only field."),
        ({"name": "a", "version": 7}, "version", "Read-only field."),
        ({"name": "a", "createdAt": "2026-01-01T00:00:00Z"}, "createdAt", "Read-only field."),
    ],
)
def test_create_rejects_invalid_fields(api, alice, body, field, message):
    reply = api.post("/projects", alice, body)
    assert reply.status == 400
    assert reply.header("Content-Type") == "application/problem+json"
    problem = reply.json
    assert problem["status"] == 400
    assert problem["type"].endswith("validation-failed")
    assert field in problem["errors"]
    if message is not None:
        assert message in problem["errors"][field]
    assert api.get("/projects", alice).json["items"] == []


def test_boundaries_are_accepted(api, alice):
    reply = api.post("/projects", alice, {"name": "x" * 200, "description": "d" * 10_000})
    assert reply.status == 201
    assert len(reply.json["name"]) == 200


def test_get_unknown_or_malformed_id_is_404(api, alice):
    assert api.get("/projects/01J00000000000000000000000", alice).status == 404
    reply = api.get("/projects/not-an-id", alice)
    assert reply.status == 404
    assert reply.json["type"].endswith("not-found")


def test_if_none_match_gives_304(api, alice, project_of):
    project = project_of(alice)
    path = f"/projects/{project['projectId']}"
    reply = api.get(path, alice, headers={"If-None-Match": '"1"'})
    assert reply.status == 304
    assert reply.raw == b""
    assert reply.header("ETag") == '"1"'
    assert api.get(path, alice, headers={"If-None-Match": 'W/"1"'}).status == 304
    assert api.get(path, alice, headers={"If-None-Match": "*"}).status == 304
    assert api.get(path, alice, headers={"If-None-Match": '"2"'}).status == 200


def test_list_pages_through_everything_without_gaps(api, alice):
    created = [api.post("/projects", alice, {"name": f"p{i}"}).json["projectId"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        path = "/projects?limit=3" + (f"&cursor={cursor}" if cursor else "")
        reply = api.get(path, alice)
        assert reply.status == 200
        pages += 1
        assert len(reply.json["items"]) <= 3
        seen += [item["projectId"] for item in reply.json["items"]]
        cursor = reply.json["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == created  # ids sort by creation


def test_full_last_page_has_no_cursor(api, alice):
    for i in range(4):
        api.post("/projects", alice, {"name": f"p{i}"})
    first = api.get("/projects?limit=2", alice).json
    second = api.get(f"/projects?limit=2&cursor={first['nextCursor']}", alice).json
    assert len(second["items"]) == 2
    assert second["nextCursor"] is None


def test_default_limit_is_50(api, alice):
    for i in range(51):
        api.post("/projects", alice, {"name": f"p{i}"})
    page = api.get("/projects", alice).json
    assert len(page["items"]) == 50
    assert page["nextCursor"] is not None


def test_put_replaces_every_field(api, alice, project_of):
    project = project_of(alice, description="old", color="#000000", archived=True)
    path = f"/projects/{project['projectId']}"
    reply = api.put(path, alice, {"name": "Renamed"})
    assert reply.status == 200
    body = reply.json
    assert body["name"] == "Renamed"
    assert body["description"] is None  # omitted optional fields return to their defaults
    assert body["color"] is None
    assert body["archived"] is False
    assert body["version"] == 2
    assert body["createdAt"] == project["createdAt"]
    assert body["updatedAt"] >= project["updatedAt"]
    assert reply.header("ETag") == '"2"'
    assert api.get(path, alice).json == body


def test_put_requires_the_required_fields(api, alice, project_of):
    project = project_of(alice)
    reply = api.put(f"/projects/{project['projectId']}", alice, {"description": "x"})
    assert reply.status == 400
    assert "name" in reply.json["errors"]


def test_patch_changes_only_given_fields(api, alice, project_of):
    project = project_of(alice, description="keep", color="#111111")
    path = f"/projects/{project['projectId']}"
    reply = api.patch(path, alice, {"archived": True, "color": None})
    assert reply.status == 200
    assert reply.json["archived"] is True
    assert reply.json["color"] is None
    assert reply.json["description"] == "keep"
    assert reply.json["name"] == project["name"]
    assert reply.json["version"] == 2
    bad = api.patch(path, alice, {"name": None})
    assert bad.status == 400
    assert api.get(path, alice).json["version"] == 2


def test_patch_rejects_read_only_fields(api, alice, project_of):
    project = project_of(alice)
    reply = api.patch(f"/projects/{project['projectId']}", alice, {"version": 9, "name": "n"})
    assert reply.status == 400
    assert reply.json["errors"] == {"version": ["Read-only field."]}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_mismatch_is_412_and_changes_nothing(api, alice, project_of, method):
    project = project_of(alice)
    path = f"/projects/{project['projectId']}"
    body = {"name": "changed"} if method != "DELETE" else None
    for stale in ('"7"', 'W/"1"', "garbage"):
        reply = api.request(method, path, alice, body, headers={"If-Match": stale})
        assert reply.status == 412, stale
        assert reply.json["type"].endswith("precondition-failed")
    assert api.get(path, alice).json == project


@pytest.mark.parametrize("tag", ['"1"', "*", '"3", "1"', "1"])
def test_if_match_current_version_succeeds(api, alice, project_of, tag):
    project = project_of(alice)
    path = f"/projects/{project['projectId']}"
    reply = api.patch(path, alice, {"name": "n"}, headers={"If-Match": tag})
    assert reply.status == 200
    assert reply.json["version"] == 2


def test_delete_then_everything_is_404(api, alice, project_of):
    project = project_of(alice)
    path = f"/projects/{project['projectId']}"
    reply = api.delete(path, alice, headers={"If-Match": '"1"'})
    assert reply.status == 204
    assert reply.raw == b""
    assert api.get(path, alice).status == 404
    assert api.put(path, alice, {"name": "x"}).status == 404
    assert api.patch(path, alice, {"name": "x"}).status == 404
    assert api.delete(path, alice).status == 404
    assert api.get("/projects", alice).json["items"] == []


def test_another_users_project_is_404_on_every_route(api, alice, bob, project_of):
    project = project_of(alice, description="mine")
    path = f"/projects/{project['projectId']}"
    assert api.get(path, bob).status == 404
    assert api.put(path, bob, {"name": "stolen"}).status == 404
    assert api.patch(path, bob, {"name": "stolen"}).status == 404
    assert api.delete(path, bob).status == 404
    assert api.get("/projects", bob).json == {"items": [], "nextCursor": None}
    assert api.get(path, alice).json == project


def test_the_owner_is_the_token_subject(api, alice, stack, aws):
    reply = api.post("/projects", alice, {"name": "x"})
    item = aws.client("dynamodb").get_item(
        TableName=stack.names["ProjectsTable"],
        Key={"userId": {"S": alice.sub}, "projectId": {"S": reply.json["projectId"]}},
    )
    assert item["Item"]["requestId"]["S"] == reply.header("X-Request-Id")
