# The two commands a newcomer needs: `make up` (run everything on embedded defaults) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup up test lint bench chaos clean

setup: $(VENV)/.installed node_modules/.installed

# s3rver (npm) for the durable embedded broker; optional for `make up`, installed by scripts/system-deps.sh for tests.
node_modules/.installed: package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: 'parcelguard broker --durable' needs it (scripts/system-deps.sh installs it)"; fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

up: setup
	$(BIN)/parcelguard up

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

test: setup
	bash scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	PARCELGUARD_TEST_POSTGRES_URL=$$(bash scripts/postgres-start.sh) $(BIN)/pytest --durations=15

bench: setup
	$(BIN)/parcelguard bench --json bench.json

# Every poison kind of issue 13 mid-stream through a live scorer: dead-lettered, 0 lost, 0 decided twice.
chaos: setup
	$(BIN)/parcelguard chaos --json chaos.json

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
