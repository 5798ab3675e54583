# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
HOST   ?= 127.0.0.1:8000

.PHONY: install run test lint format bench conformance clean schema

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## make run: install, migrate, create the demo store (printing its credentials and curl lines), serve,
## with one webhook delivery worker beside the server (stopped when the server stops).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_demo --host $(HOST)
	$(BIN)/python manage.py deliver_webhooks & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver $(HOST)

## make test: install and run the whole suite (SQLite by default; DATABASE_URL selects PostgreSQL).
test: install lint
	$(BIN)/python -m pytest

## make lint: ruff, then mypy over the files pyproject.toml's [tool.mypy] lists.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: every benchmark in bench/ (not part of make test; each prints figures and ratios against
## a baseline measured in the same run; they need PostgreSQL).
# As in production, rate limits and idempotency keys live in Redis; the limits are set high so that
# the benchmark's one application is measured, not throttled (the limiter's cost is still paid).
bench: export REDIS_URL ?= redis://127.0.0.1:6379/6
bench: export RATE_LIMIT_PER_SECOND ?= 1000000
bench: export RATE_LIMIT_BURST ?= 1000000
bench: install
	@for script in bench/*.py; do echo "=== $$script"; $(BIN)/python $$script || exit 1; done

## make conformance CONFORMANCE=/path/to/harness.py: an external black-box conformance harness, run
## against this checkout (TWC_CHECKOUT). The harness is not part of the repository: name it.
CONFORMANCE ?=
conformance:
	@test -n "$(CONFORMANCE)" || { echo "make conformance needs CONFORMANCE=/path/to/the/harness (it is not in this repository)" >&2; exit 2; }
	TWC_CHECKOUT=$(CURDIR) $(PYTHON) $(CONFORMANCE)

clean:
	rm -rf $(VENV) db.sqlite3* .pytest_cache .ruff_cache .mypy_cache

## make schema: regenerate the committed OpenAPI copy (a test fails when it drifts from the code).
schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi.yaml

## make cluster: the production topology on this machine, under .cluster/ (deploy/cluster.py, docs/scaling.md):
## a pg_auto_failover monitor, a primary and a synchronous standby, PgBouncer following the primary, two
## gunicorn servers, a webhook worker and HAProxy (TLS) on ports 55400-55421 (CLUSTER_PORT_BASE moves them).
## It returns when the balancer answers; `env $$(cat .cluster/env) ...` runs a command against it.
CLUSTER := $(BIN)/python deploy/cluster.py
.PHONY: cluster cluster-kill-app cluster-failover cluster-status cluster-down
cluster: install
	$(CLUSTER) up
cluster-kill-app:
	$(CLUSTER) kill-app
cluster-failover:
	$(CLUSTER) failover
cluster-status:
	$(CLUSTER) status
cluster-down:
	$(CLUSTER) down
