# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := sample_data/demo

.PHONY: install test demo model bench bench-ci bench-scale bench-nightly clean

install: $(VENV)/.installed

# Re-install only when the package's declared dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,bench,dask]'
	touch $@

# The layering contract first (pyproject.toml: [tool.importlinter]), then the suite.
test: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

$(DEMO)/manifest.json: | install
	$(BIN)/detector generate --out $(DEMO) --subscribers 5000 --days 7 --seed 7 --format csv

# Scores the demo carrier with the model shipped in the package; prints the top of the flagged
# list and where the report is; then runs its first three days as nightly runs and lists the cases.
demo: install $(DEMO)/manifest.json
	$(BIN)/detector score --cdr $(DEMO)/cdr --subscribers $(DEMO)/subscribers.csv \
		--allowlist $(DEMO)/allowlist.csv --out $(DEMO)/run
	@echo "Outputs in $(DEMO)/run: flagged.csv, scores.parquet, report.html (open it in a browser), rejects.csv"
	@echo "Then the same carrier night by night: three nights into a state, then its case ledger."
	rm -rf $(DEMO)/state $(DEMO)/nights
	for f in $$(ls $(DEMO)/cdr/*.csv | head -3); do \
		$(BIN)/detector nightly --cdr $$f --state $(DEMO)/state --subscribers $(DEMO)/subscribers.csv \
			--allowlist $(DEMO)/allowlist.csv --out $(DEMO)/nights/$$(basename $$f .csv) --top 0 || exit 1; \
	done
	$(BIN)/detector cases --state $(DEMO)/state --status open
	@echo "Each night's outputs in $(DEMO)/nights/ (verify.csv, changes.csv, report.html with the nights); the state in $(DEMO)/state"

# Re-trains the shipped model (models/default_model.skops) from generated worlds, reproducibly,
# then scores held-out worlds and prints the acceptance table. About 7 minutes on 2 cores.
model: install
	$(BIN)/python -m models.train_shipped

# Benchmarks run on 2 threads, like the DuckDB peer they are compared with.
BENCH_ENV := POLARS_MAX_THREADS=2 NUMBA_NUM_THREADS=2

bench: install
	$(BENCH_ENV) $(BIN)/python -m pytest bench --benchmark-enable -q

# The small size only: what CI records on every landing.
bench-ci: install
	$(BENCH_ENV) BENCH_SUBSCRIBERS=10000 $(BIN)/python -m pytest bench --benchmark-enable -q

# Carrier scale: detector score on 10M, 50M and 200M rows within 4 / 6 GiB, beside DuckDB's core
# features, and the Dask engine's overhead. Generates ~4 GB of Parquet into .bench_data/ once;
# about an hour on 2 cores.
BENCH_SCALE_ROWS ?= 10000000,50000000,200000000

bench-scale: install
	$(BENCH_ENV) BENCH_SCALE_ROWS=$(BENCH_SCALE_ROWS) $(BIN)/python -m pytest bench/bench_scale.py -p no:logging -q -s

# Issue 26: 28 nights of detector nightly (--window 28), each a whole process, then night 28 with
# windows 28 and 7 beside detector score of the 28 days' files. The world and the state are cached
# in .bench_data/; BENCH_NIGHTLY_SUBSCRIBERS=10000 for a quick run, BENCH_NIGHTLY_CARRIER=4000000
# adds the carrier size (hours).
BENCH_NIGHTLY_SUBSCRIBERS ?= 100000

bench-nightly: install
	$(BENCH_ENV) BENCH_NIGHTLY_SUBSCRIBERS=$(BENCH_NIGHTLY_SUBSCRIBERS) $(BIN)/python -m pytest bench/bench_nightly.py -p no:logging -q

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .benchmarks .bench_data
