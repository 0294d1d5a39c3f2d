"""The packaged template, built once per test session exactly as `make package` builds it
(both `chalice package` runs), into a temporary directory so that it never races a
developer's own build/package/."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.package import Package, package

STAGE = "dev"


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Package:
    base = tmp_path_factory.mktemp("package")
    return package(STAGE, out=base / "out", work=base / "work")


@pytest.fixture(scope="session")
def template(packaged: Package) -> dict[str, Any]:
    return packaged.template()
