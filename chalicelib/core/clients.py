"""AWS clients, built on first use and shared by the handlers of one Lambda.

Tests hand in fakes with the same interface through `use`, e.g. an SNS client that fails
its first calls, instead of patching internals.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
# One Lambda runs one handler at a time, but the local stack runs many on threads of one
# process, and boto3's default session is not thread-safe while it builds a client.
_building = threading.Lock()


def client(service: str) -> Any:
    found = _clients.get(service)
    if found is None:
        with _building:
            if service not in _clients:
                import boto3  # only the Lambdas that call AWS directly pay for the import

                _clients[service] = boto3.client(service)
            found = _clients[service]
    return found


def use(service: str, implementation: Any) -> None:
    _clients[service] = implementation


def reset() -> None:
    _clients.clear()
