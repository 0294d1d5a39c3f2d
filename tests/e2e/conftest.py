"""The stack most end-to-end modules share: one `make run` per module, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_local_stack import RunningStack, start_stack


@pytest.fixture(scope="module")
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def contract(running: RunningStack) -> dict[str, str]:
    return running.contract
