"""The long schemathesis campaign against the local stack: `make fuzz` (CASES=5000).

Run: .venv/bin/python bench/fuzz.py [--cases N] [--seed S]

Starts the local stack on free ports (as the end-to-end tests do), signs a user up, and
runs schemathesis over GET /openapi.json with every check and every phase (coverage,
fuzzing, stateful), the same settings and hooks as make test's short run, more examples
per operation until at least N cases were generated. Writes docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.test_api_description import generated_cases, run_schemathesis  # noqa: E402
from tests.e2e.test_local_stack import sign_up_and_in, start_stack  # noqa: E402

REPORT = ROOT / "docs" / "fuzzing.md"
CHECKS = (
    "not_a_server_error, status_code_conformance, content_type_conformance, "
    "response_headers_conformance, response_schema_conformance, negative_data_rejection, "
    "positive_data_acceptance, missing_required_header, unsupported_method, "
    "allow_header_conformance, use_after_free, ensure_resource_availability, ignored_auth, "
    "object_level_authorization"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=random.randrange(2**31))
    parser.add_argument("--examples", type=int, default=150, help="per operation, per round")
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so the stack started below is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    total, rounds, summaries = 0, 0, []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp) / "stack")
        try:
            user = sign_up_and_in(stack.contract, "fuzz@example.com")
            while total < args.cases:
                seed = args.seed + rounds
                result = run_schemathesis(
                    stack.contract,
                    user.id_token,
                    Path(tmp),
                    "--max-examples",
                    str(args.examples),
                    "--seed",
                    str(seed),
                    timeout=3600,
                )
                output = result.stdout + result.stderr
                cases = generated_cases(output)
                line = re.search(r"Test cases:\s*\n\s*(.+)", output)
                summaries.append((seed, result.returncode, line.group(1) if line else "?"))
                print(output[-6000:] if result.returncode else summaries[-1])
                total += cases
                rounds += 1
                if result.returncode != 0:
                    break
        finally:
            stack.stop()
    minutes = (time.monotonic() - started) / 60
    failed = any(code != 0 for _, code, _ in summaries)
    rows = "\n".join(
        f"| {seed} | {'failed' if code else 'passed'} | {s} |" for seed, code, s in summaries
    )
    REPORT.write_text(
        f"""# Fuzzing the API with schemathesis

`make fuzz` (= `.venv/bin/python bench/fuzz.py --cases {args.cases}`) starts the local
stack, signs a user up and runs schemathesis against `GET /openapi.json` with a real ID
token, every check and every phase (coverage, fuzzing, stateful), the settings and hooks
of tests/e2e/schemathesis.toml and tests/e2e/schemathesis_hooks.py. `make test` runs a
short version of it (tests/e2e/test_api_description.py: fuzzing and stateful phases,
5 examples per operation, a fixed seed).

Checks: {CHECKS}.

## What it found (fixed, with tests)

- `priority: 2.0` was a 400: JSON Schema's `integer` admits it; StrictInteger now takes it as 2.
- Query strings and free-form JSON (POST /sync's `fields`) with control characters were
  400s while the document allowed them: the text rule is in the document now (patterns,
  JsonText).
- A profile's preferences, its time zone and a note's tags had rules only their validators
  knew: stated with `metadata={"openapi": ...}`.
- Answers that leave fields out (POST /sync's results, a job's `result`/`error`) were
  documented as always present: `metadata={"optional": True}`.
- Swagger UI's `data:` icons broke the page's CSP (the Chromium test): served as files.

## Last run

{datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}, {minutes:.1f} minutes, {rounds} round(s),
**{total} test cases**, {"FAILURES (see the output)" if failed else "0 failures"}.

| seed | result | test cases |
| --- | --- | --- |
{rows}

Replay a round with `schemathesis ... run --seed <seed>` (see run_schemathesis in
tests/e2e/test_api_description.py for the full command).
""",
        encoding="utf-8",
    )
    print(f"{total} cases in {rounds} round(s); wrote {REPORT.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
