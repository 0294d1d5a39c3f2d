"""Cold start: how long a fresh interpreter takes to import the app (what every Lambda
instance pays before its first event). Run: .venv/bin/python bench/cold_start.py [runs]

Importing must do no I/O and build no client, so this is import time only. It writes its
result to docs/benchmarks.md (section "Cold start").
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402

ENV = {
    **os.environ,
    "TANDEM_STAGE": "dev",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def one_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=ENV, check=True)
    return time.perf_counter() - started


def baseline() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=ENV, check=True)
    return time.perf_counter() - started


def heaviest_imports(count: int = 8) -> list[tuple[str, float]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    )
    top: list[tuple[str, float]] = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        # Depth 1 is `app` itself; depth 2 are the packages it pulls in.
        if match and (len(match.group(2)) - 1) // 2 == 1:
            top.append((match.group(3), int(match.group(1)) / 1e6))
    return sorted(top, key=lambda item: -item[1])[:count]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    one_import()  # warm the OS file cache; the Lambda runtime's disk is warm too
    interpreter = statistics.median(baseline() for _ in range(runs))
    times = [one_import() for _ in range(runs)]
    lines = [
        f"`.venv/bin/python bench/cold_start.py {runs}`: a fresh `python -c 'import app'`, "
        f"{runs} runs, warm file cache, no .pyc written.",
        "",
        f"- median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms (the bare interpreter: {interpreter * 1000:.0f} ms)",
        "- the minimum is the import's own cost; the machine stalls now and then (seen here:"
        " seconds-long outliers), which shows in the maximum and can move the median",
        "- heaviest top-level imports (cumulative):",
        *[f"  - `{name}`: {seconds * 1000:.0f} ms" for name, seconds in heaviest_imports()],
    ]
    write_section("Cold start", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
