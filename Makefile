# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := sample_data/demo

.PHONY: install test demo bench clean

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
	@echo "Demo carrier in $(DEMO)/ (CDRs in $(DEMO)/cdr, rejected rows in $(DEMO)/rejects.csv)"

bench: install
	$(BIN)/python -m pytest bench --benchmark-enable -q

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .benchmarks
