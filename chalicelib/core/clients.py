"""AWS clients, built on first use and shared by the handlers of one Lambda.

Tests hand in fakes with the same interface through `use`, e.g. an SNS client that fails
its first calls, instead of patching internals.
"""

from __future__ import annotations

from typing import Any

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _clients:
        import boto3  # only the Lambdas that call AWS directly pay for the import

        _clients[service] = boto3.client(service)
    return _clients[service]


def use(service: str, implementation: Any) -> None:
    _clients[service] = implementation


def reset() -> None:
    _clients.clear()
