# Everything a fresh clone needs: `make demo` to see it run, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test soak lint fmt install kafka browser wrk clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/smsradar up --simulate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Apache Kafka for the integration tests, fetched once with Maven into .cache/kafka
# (nothing to do when SMSRADAR_TEST_BROKER=tansu; see README, Development).
kafka: $(STAMP)
	$(BIN)/python -m tests.support.apache_kafka fetch --if-tested

# Debian's chromium for the dashboard's browser test (tests/dashboards/test_browser.py):
# playwright drives it, so no browser is downloaded at test time. Needs root on a fresh machine.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# Debian's wrk, the load generator of `smsradar bench --only receiver` (without it the bench
# falls back to its own asyncio generator, which saturates sooner). Needs root on a fresh machine.
wrk:
	command -v wrk >/dev/null || (apt-get update && apt-get install -y --no-install-recommends wrk)

# pytest-xdist processes for `make test`. Each starts the brokers its tests need; two cut
# the run by 40 % on a 2-core machine, where the tests mostly wait on brokers and processes.
# TEST_WORKERS=0 runs everything in one process. Tests marked `serial` run after, alone:
# their scenario needs the cores to itself (see the marker in pyproject.toml).
TEST_WORKERS ?= 2

test: lint kafka browser wrk
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not serial"
	$(BIN)/python -m pytest -m serial

# The soak of issue 9 (README, Development): the whole system at a fixed rate for SOAK_MINUTES,
# memory sampled. Not a part of `make test`: tests/soak is only collected when
# SMSRADAR_SOAK_MINUTES is set. On the embedded broker unless SMSRADAR_TEST_BROKER says otherwise
# (exported to the `kafka` step too, so it fetches nothing then).
SOAK_MINUTES ?= 30
soak: export SMSRADAR_TEST_BROKER ?= tansu
soak: kafka
	SMSRADAR_SOAK_MINUTES=$(SOAK_MINUTES) $(BIN)/python -m pytest tests/soak -s

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output
