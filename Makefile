# Tandem developer commands. `make test` is the one CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: venv lint typecheck pytest test check clean run token

# The venv is rebuilt only when the requirement files change (the stamp names their checksum).
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest

test: lint typecheck pytest

# The whole system on 127.0.0.1 (embedded AWS, the app in the local stage); Ctrl-C stops
# it. Ports: TANDEM_API_PORT (8000), TANDEM_WS_PORT (8001), TANDEM_AWS_PORT (4566).
run: venv
	@exec $(BIN)/python -m devstack

# A user of the running stack and its ID token, for curl: TOKEN=$$(make -s token EMAIL=...)
token: venv
	@test -n "$(EMAIL)" || { echo "usage: make token EMAIL=you@example.com" >&2; exit 2; }
	@$(BIN)/python -m devstack token "$(EMAIL)"

check: test

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
