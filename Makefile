# Tandem developer commands. `make test` is the one CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: venv node lint typecheck pytest test check clean bench load soak run token package deploy chalice-config openapi fuzz diagram

# The venv is rebuilt only when the requirement files change (the stamp names their checksum).
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

# The npm packages package-lock.json pins (Swagger UI, the TypeScript client's generator),
# installed again only when the lock changes.
NODE_STAMP := node_modules/.installed-$(shell cksum < package-lock.json | cut -d' ' -f1)
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

node: $(NODE_STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv node
	$(BIN)/pytest

test: lint typecheck pytest

# The whole system on 127.0.0.1 (embedded AWS, the app in the local stage); Ctrl-C stops
# it. Ports: TANDEM_API_PORT (8000), TANDEM_WS_PORT (8001), TANDEM_AWS_PORT (4566).
# Its data is kept in .tandem/ across runs; `make run FRESH=1` starts from scratch.
# `make run CHAOS=1` (or CHAOS=seed=7,fail=0.1,...): chaos mode, docs/local-stack.md.
run: venv
	@$(if $(CHAOS),export TANDEM_CHAOS='$(CHAOS)';) exec $(BIN)/python -m devstack run $(if $(FRESH),--fresh)

# A user of the running stack and its ID token, for curl: TOKEN=$$(make -s token EMAIL=...)
token: venv
	@test -n "$(EMAIL)" || { echo "usage: make token EMAIL=you@example.com" >&2; exit 2; }
	@$(BIN)/python -m devstack token "$(EMAIL)"

# docs/openapi.json, the committed copy of GET /openapi.json, and the docs page's icon
# stylesheet; tests fail when they are stale.
openapi: venv
	$(BIN)/python -m deploy.openapi

# schemathesis against a fresh local stack until CASES test cases ran, every check and
# phase; writes docs/fuzzing.md (make test runs a short version).
CASES ?= 5000
fuzz: venv
	$(BIN)/python bench/fuzz.py --cases $(CASES)

# docs/architecture.{dot,svg}: the diagram drawn from the services' declarations; tests fail
# when the committed copy is stale. Rendering needs Graphviz (apt-get install graphviz).
diagram: venv
	@command -v dot >/dev/null || { echo "make diagram needs Graphviz's dot: apt-get install graphviz" >&2; exit 2; }
	$(BIN)/python -m tandem_cli.diagram

# .chalice/config.json (stage variables, per-function settings) from the services'
# declarations; tests fail when the committed copy is stale.
chalice-config: venv
	$(BIN)/python -m deploy.chalice_config

# The deployable stack of a stage (dev or prod) in build/package/: sam.json and
# deployment.zip, from `chalice package` with the merge template built from infra/.
# Offline apart from the package registry. See docs/deploy.md.
STAGE ?= dev
STACK ?= tandem-$(STAGE)
package: venv
	$(BIN)/python -m deploy.package --stage $(STAGE)
	$(BIN)/cfn-lint build/package/sam.json

# Deploys build/package/ as the stack tandem-$(STAGE). Needs the AWS CLI, credentials, and
# an S3 bucket for the code: make deploy STAGE=dev ARTIFACT_BUCKET=... [ALERT_EMAIL=...]
deploy: package
	@test -n "$(ARTIFACT_BUCKET)" || { echo "usage: make deploy STAGE=dev ARTIFACT_BUCKET=<S3 bucket>" >&2; exit 2; }
	aws cloudformation package --template-file build/package/sam.json \
		--s3-bucket "$(ARTIFACT_BUCKET)" --output-template-file build/package/packaged.json --use-json
	aws cloudformation deploy --template-file build/package/packaged.json --stack-name "$(STACK)" \
		--s3-bucket "$(ARTIFACT_BUCKET)" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		$(if $(ALERT_EMAIL),--parameter-overrides AlertEmail="$(ALERT_EMAIL)")

check: test

# Benchmarks, on demand only (never in make test); results go to docs/benchmarks.md.
bench: venv
	$(BIN)/python bench/cold_start.py 10
	$(BIN)/python bench/api_latency.py 200
	$(BIN)/python bench/http_latency.py 300
	$(BIN)/python bench/limits.py

# USERS users with a websocket each for DURATION seconds against a stack started for the
# run (ATTACH=1: the running `make run`), then a recount of every acknowledged write.
USERS ?= 20
DURATION ?= 60
load: venv
	$(BIN)/python bench/load.py --users $(USERS) --seconds $(DURATION) $(if $(ATTACH),--attach)

# The same load against a stack in chaos mode (CHAOS=1: every fault at its default rate,
# a new seed, printed; CHAOS=seed=...: a replay); the counts must stay 0.
CHAOS_SOAK ?= $(or $(CHAOS),1)
soak: venv
	$(BIN)/python bench/load.py --users $(USERS) --seconds $(DURATION) --chaos '$(CHAOS_SOAK)'


clean:
	rm -rf $(VENV) node_modules build .mypy_cache .ruff_cache .pytest_cache
