# Two commands a newcomer needs: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CARGO ?= cargo
CORE := core/Cargo.toml
# The compiled core (Rust, under core/) is built into signalfire/_core by the install below
# (maturin, release profile, the machine's cargo), then again profile-guided (core/pgo.sh): a
# change to its sources rebuilds it. `pip install -e .` alone gives a plain release build,
# quicker to make while working on the core, slower to run.
CORE_SOURCES := $(shell find core -path core/target -prune -o \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock \) -print)

.PHONY: setup tools test lint typecheck unit demo clean faults core-check

setup: $(STAMP)

$(STAMP): pyproject.toml $(CORE_SOURCES) core/pgo.sh core/pgo_train.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	bash core/pgo.sh $(BIN)/python
	touch $(STAMP)

# promtool checks the Prometheus rules in the test suite: Debian's prometheus package.
# amtool and Alertmanager check and serve deploy/alertmanager: Debian's prometheus-alertmanager,
# whose server binary is named prometheus-alertmanager.
# The page store's tests start a PostgreSQL server of their own: Debian's postgresql package
# (its binaries under /usr/lib/postgresql/<major>/bin; the packaged cluster is not used).
# The console's browser tests drive Debian's chromium package with Playwright (no browser
# download: Playwright is pointed at /usr/bin/chromium).
tools:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing Debian's prometheus package (promtool)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@{ command -v amtool && { command -v alertmanager || command -v prometheus-alertmanager; }; } >/dev/null 2>&1 || { \
		echo "installing Debian's prometheus-alertmanager package (alertmanager, amtool)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; }
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql package (initdb, postgres)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium package (the console's browser tests)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

lint: setup core-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The Rust side: format, lints as errors, and the pure crates' own tests.
core-check:
	$(CARGO) fmt --manifest-path $(CORE) --all --check
	$(CARGO) clippy --manifest-path $(CORE) --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --manifest-path $(CORE) --workspace --exclude signalfire-core --locked

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q -m "not integration" tests

# The README's test command: lint, types, the shipped catalogue's own tests, then the suite.
test: setup tools lint typecheck
	$(BIN)/signalfire rules check rules
	$(BIN)/signalfire rules test rules --require-cases
	$(BIN)/pytest -q tests

# The bounded fault-injection suite on real Kafka; its figures as one JSON object, last line.
faults: setup tools
	@rm -f .cache/faults-summary.json
	$(BIN)/pytest -q tests/faults; status=$$?; \
		$(BIN)/python -m tests.faults.figures .cache/faults-summary.json; exit $$status

demo: setup
	$(KAFKA) fetch
	$(BIN)/signalfire demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis out .cache core/target
	rm -f signalfire/_core*.so

# Local Apache Kafka (KRaft, single node on loopback; jars from Maven Central, cached).
KAFKA := deploy/kafka/kafka.sh
.PHONY: kafka-fetch kafka-up kafka-down kafka-status kafka-wipe bench

kafka-fetch:
	$(KAFKA) fetch

kafka-up:
	$(KAFKA) up

kafka-down:
	$(KAFKA) down

kafka-status:
	$(KAFKA) status

kafka-wipe:
	$(KAFKA) wipe

bench: setup
	$(BIN)/python -m bench.engine
