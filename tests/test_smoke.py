def test_health_needs_no_token(api):
    reply = api.get("/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok"}
    assert reply.header("X-Request-Id")


def test_seed_body(api, alice, project_of):
    project = project_of(alice)
    body = {
        "title": "My Task",
        "projectId": project["projectId"],
        "status": "Active",
        "targetDate": None,
        "startDate": None,
        "isCompleted": False,
    }
    reply = api.post("/tasks", alice, body)
    assert reply.status == 201, reply.json
    assert reply.json["title"] == "My Task"
