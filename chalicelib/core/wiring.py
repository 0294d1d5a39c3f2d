"""The app's dependencies, wired in one place: each is built by its factory on first use
and shared by the handlers of one Lambda (nothing is built at import, for cold starts).

Tests replace any of them through `override`, e.g. an SNS client that fails its first
calls, with a fake of the same interface; `reset` forgets every override and every built
dependency, except those that live as long as the process (the logger).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_known: dict[str, Dependency[Any]] = {}
_built: dict[str, Any] = {}
_overrides: dict[str, Any] = {}
# One Lambda runs one handler at a time, but the local stack runs many on threads of one
# process, and boto3's default session is not thread-safe while it builds a client. A
# factory may use another dependency, hence re-entrant.
_building = threading.RLock()


class Dependency(Generic[T]):
    """One shared dependency; calling it gives the override, or the built value."""

    def __init__(self, name: str, factory: Callable[[], T], *, per_process: bool = False):
        if name in _known:
            raise ValueError(f"dependency {name} is wired twice")
        self.name = name
        self.factory = factory
        self.per_process = per_process
        _known[name] = self

    def __call__(self) -> T:
        found: T | None = _overrides.get(self.name, _built.get(self.name))
        if found is None:
            with _building:
                if self.name not in _built:
                    _built[self.name] = self.factory()
                found = _overrides.get(self.name, _built[self.name])
        return found


def _botocore_session() -> Any:
    from botocore.session import get_session

    return get_session()


# One botocore session per process, for every client: PynamoDB's connection (core.models)
# and the boto3 clients. Each session loads endpoint and service models anew, so a second
# one cost a cold Lambda's first request ~50 ms. Clients intercept nothing at build time
# (moto hooks the send), so tests share it too.
botocore_session = Dependency("session.botocore", _botocore_session, per_process=True)


def _boto3_session() -> Any:
    import boto3  # only the Lambdas that call AWS directly pay for the import

    return boto3.Session(botocore_session=botocore_session())


# boto3's view of the same session: it adds its own handlers to the session once.
boto3_session = Dependency("session.boto3", _boto3_session, per_process=True)


def _aws_client(service: str) -> Callable[[], Any]:
    def build() -> Any:
        return boto3_session().client(service)

    return build


def aws(service: str) -> Any:
    """The shared boto3 client of `service` (dependency "aws.<service>")."""
    name = f"aws.{service}"
    dependency = _known.get(name)
    if dependency is None:
        with _building:
            dependency = _known.get(name) or Dependency(name, _aws_client(service))
    return dependency()


def override(name: str, value: Any) -> None:
    """`value` stands in for the dependency `name` (an AWS client is "aws.<service>");
    None takes the override away."""
    if name not in _known and not name.startswith("aws."):
        raise KeyError(f"no dependency {name}; known: {sorted(_known)}")
    with _building:
        if value is None:
            _overrides.pop(name, None)
        else:
            _overrides[name] = value


def reset() -> None:
    with _building:
        _overrides.clear()
        for name in list(_built):
            dependency = _known.get(name)
            if dependency is None or not dependency.per_process:
                del _built[name]


def built() -> list[str]:
    """The names of the dependencies built so far (tests: nothing at import)."""
    return sorted(_built)
