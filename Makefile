# exoforge: two commands on a fresh machine -- `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench lock clean

$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/exoforge run examples/stirred_tank_tff_sec.yaml --report reports/stirred_tank_tff_sec.html
	@echo "open reports/stirred_tank_tff_sec.html"
	@echo "the team workspace on the example data: $(BIN)/exoforge serve --examples examples  (then http://127.0.0.1:8000/)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Regenerate the lock file (Python 3.11) after changing dependency ranges.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet -e ".[dev,dask,postgres]"
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^exoforge' > requirements-lock.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
