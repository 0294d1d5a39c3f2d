"""`make openapi`: writes docs/openapi.json, the committed copy of GET /openapi.json.

The API serves the document it builds from its routes' declarations (core.openapi); the
copy makes every change of the API show up in review, and tests/test_openapi.py fails
when it is stale. Generated clients start from either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_FILE = ROOT / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    from app import app
    from chalicelib.meta import service

    return service.document(app.routes)


def text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DOCUMENT_FILE.write_text(text(document()), encoding="utf-8")
    print(f"wrote {DOCUMENT_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
