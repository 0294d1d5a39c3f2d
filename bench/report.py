"""Writes one section of docs/benchmarks.md, keeping the others."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Run on demand, never in `make test`; each script rewrites its own section. Numbers are from
the machine named in each section, and only comparable on the same machine.
"""


def write_section(title: str, lines: list[str]) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    stamp = (
        f"_{datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, "
        f"{platform.machine()}, {platform.system()}_"
    )
    section = f"## {title}\n\n{stamp}\n\n" + "\n".join(lines) + "\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section + "\n", text)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + section)
    )
    DOC.write_text(text.rstrip("\n") + "\n")
