"""Calls to Tandem's REST API as the mobile app makes them: JSON, a bearer token, an
Idempotency-Key on every POST so that a retry never writes twice, and retries (bounded,
with backoff, honouring Retry-After) on 429, 503 and a dropped connection."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from .target import CliError

RETRIES = 6
TIMEOUT = 30


def call(
    api_url: str, token: str, method: str, path: str, body: Any = None, retries: int = RETRIES
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    delay = 0.2
    for attempt in range(retries + 1):
        url = api_url + path  # http(s) only: the target's API URL
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            if error.code in (409, 429, 503) and attempt < retries:
                # 409 here is "a request with this Idempotency-Key is still running".
                retry_after = error.headers.get("Retry-After")
                time.sleep(float(retry_after) if retry_after and retry_after.isdigit() else delay)
                delay = min(delay * 2, 5.0)
                continue
            raise CliError(f"{method} {path}: {error.code} {_problem(raw, error.reason)}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            if attempt < retries:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            reason = getattr(error, "reason", error)
            raise CliError(f"no API answers at {api_url}: {reason}") from None
    raise AssertionError("unreachable")


def _problem(raw: bytes, fallback: str) -> str:
    try:
        problem = json.loads(raw)
    except ValueError:
        return fallback
    if not isinstance(problem, dict):
        return fallback
    detail = problem.get("detail") or problem.get("title") or fallback
    return str(detail)
