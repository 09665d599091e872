# phusong — two commands on a fresh machine with Python 3.11:  make demo  |  make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint venv clean bench importtime

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 not found as '$(PYTHON)'; run: make PYTHON=/path/to/python3.11 ..."; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m phusong.coverage._warm  # compile numba's kernels into its cache once
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/phusong demo --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=20 phusong tests

lint: $(STAMP)
	$(BIN)/ruff check phusong tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@for f in benchmarks/bench_*.py; do echo "# $$f"; $(BIN)/python $$f; done

importtime: $(STAMP)  # per-command import times (python -X importtime) → out/import_times.md
	$(BIN)/python benchmarks/bench_import_time.py --markdown out/import_times.md

clean:
	rm -rf $(VENV) out .pytest_cache
