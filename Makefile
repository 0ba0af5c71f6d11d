# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := sample_data/demo

.PHONY: install test demo bench bench-ci clean

install: $(VENV)/.installed

# Re-install only when the package's declared dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

test: install
	$(BIN)/python -m pytest -q

$(DEMO)/manifest.json: | install
	$(BIN)/detector generate --out $(DEMO) --subscribers 5000 --days 7 --seed 7 --format csv

demo: install $(DEMO)/manifest.json
	$(BIN)/detector validate --cdr $(DEMO)/cdr --rejects $(DEMO)/rejects.csv
	$(BIN)/detector features --cdr $(DEMO)/cdr --subscribers $(DEMO)/subscribers.csv --out $(DEMO)/features.parquet
	@echo "Demo carrier in $(DEMO)/: CDRs in $(DEMO)/cdr, rejected rows in $(DEMO)/rejects.csv, features in $(DEMO)/features.parquet"

# Benchmarks run on 2 threads, like the DuckDB peer they are compared with.
BENCH_ENV := POLARS_MAX_THREADS=2 NUMBA_NUM_THREADS=2

bench: install
	$(BENCH_ENV) $(BIN)/python -m pytest bench --benchmark-enable -q

# The small size only: what CI records on every landing.
bench-ci: install
	$(BENCH_ENV) BENCH_SUBSCRIBERS=10000 $(BIN)/python -m pytest bench --benchmark-enable -q

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .benchmarks .bench_data
