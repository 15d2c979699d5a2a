# The two commands of the README: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/electsec plan data/sample/centers.geojson data/sample/garrisons.geojson \
		--out out --time-limit 20
	$(BIN)/electsec plan data/sample/centers.geojson data/sample/garrisons.geojson \
		--roads data/sample/roads.gpkg --split --out out/roads --no-map

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --nbmake --nbmake-timeout=900 tests src/electsec notebooks

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks data/sample
	$(BIN)/ruff format --check src tests benchmarks data/sample

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
