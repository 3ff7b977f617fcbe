# The two commands a newcomer needs: `make up` (run everything on embedded defaults) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup up test lint bench clean

setup: $(VENV)/.installed

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

test: setup
	bash scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy .
	PARCELGUARD_TEST_POSTGRES_URL=$$(bash scripts/postgres-start.sh) $(BIN)/pytest

bench: setup
	$(BIN)/parcelguard bench --json bench.json

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
