# The two commands a new machine needs: `make run` and `make test`. Each one creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
# pytest-xdist workers for `make test`: two by default, each test module on one worker (a
# module's tests share its fixtures and the bad-input campaign's tally); `make test
# TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= 2

.PHONY: install browser-deps run test lint format migrate seed clean chaos translations bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/intake db upgrade

seed: migrate
	$(BIN)/intake seed-demo

## The portal on the embedded default: SQLite, embedded broker, fake Partner Center.
run: seed
	@echo "Portal: http://127.0.0.1:$(PORT)  (fake Partner Center: http://127.0.0.1:5050)"
	PORT=$(PORT) ENHANCED_POLL_BASE_SECONDS=$${ENHANCED_POLL_BASE_SECONDS:-2} \
		ENHANCED_POLL_CAP_SECONDS=$${ENHANCED_POLL_CAP_SECONDS:-10} \
		FORWARD_SWEEP_SECONDS=$${FORWARD_SWEEP_SECONDS:-5} \
		FORWARD_REQUEUE_SECONDS=$${FORWARD_REQUEUE_SECONDS:-10} \
		$(BIN)/honcho -f Procfile.dev start

## The browser tests drive Debian's chromium (Playwright cannot download its own browsers
## here) and need a Korean font; install both when missing (as root), or stop with the reason.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi nanum; then \
		echo "Installing chromium and fonts-nanum for the browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null; } \
			|| { echo "ERROR: cannot install chromium and fonts-nanum: run 'apt-get install chromium fonts-nanum' as root" >&2; exit 1; }; \
		command -v chromium >/dev/null 2>&1 || { echo "ERROR: chromium is still missing" >&2; exit 1; }; \
	fi

## The whole suite (PostgreSQL and Redis from TEST_POSTGRES_URL / TEST_REDIS_URL).
test: install browser-deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit --quiet --recursive app workers --severity-level medium
	$(BIN)/python tools/audit_dependencies.py

## Korean and English: collect the texts to translate into app/translations/ko, then compile.
translations: install
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l -k N_ -k M_ -o app/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i app/translations/messages.pot -d app/translations
	$(BIN)/pybabel compile --statistics -d app/translations

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

## Benchmarks against bare baselines (PostgreSQL from BENCH_POSTGRES_URL or TEST_POSTGRES_URL, a
## private redis-server); writes docs/PERFORMANCE.md. BENCH_ARGS="--plan small" for a quick look.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

## Long fault-injection runs (5,000 records, PostgreSQL + Redis and embedded); writes docs/RELIABILITY.md.
chaos: install
	$(BIN)/python -m tests.integration.chaos --records 5000 --customers 800 --fault-seconds 240 --report docs/RELIABILITY.md
