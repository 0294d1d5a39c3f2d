"""Assertions on RFC 9457 problem answers, shared by the contract tests."""

from __future__ import annotations

from typing import Any


def problem(reply: Any, status: int) -> dict[str, Any]:
    """Asserts an RFC 9457 problem with `status` and returns its body."""
    assert reply.status == status, (reply.status, reply.raw[:500])
    assert reply.header("Content-Type") == "application/problem+json"
    body: dict[str, Any] = reply.json
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str), (key, body)
        assert body[key], (key, body)
    text = reply.raw.decode()
    assert "Traceback" not in text
    assert "chalicelib" not in text
    assert reply.header("X-Request-Id")
    return body


def field_errors(reply: Any, status: int = 400) -> dict[str, list[str]]:
    """Asserts a problem with an `errors` map in the contract's shape: field -> [message]."""
    body = problem(reply, status)
    errors: dict[str, list[str]] = body.get("errors") or {}
    assert errors, body
    for field, messages in errors.items():
        assert isinstance(messages, list), (field, messages)
        assert messages, field
        assert all(isinstance(message, str) and message for message in messages), messages
    return errors
