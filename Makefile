# Two commands for a fresh machine (see README):
#   make demo   installs what is needed into .venv and runs the sample study area
#   make test   installs what is needed into .venv and runs the tests
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/.installed: requirements.txt requirements-test.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/python scripts/run_coverage.py --config data/sample/study.yaml --out maps/sample
	$(BIN)/python scripts/run_coverage.py --config data/sample/study_hilly.yaml --out maps/sample_hilly --quiet

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python scripts/benchmark_core.py

clean:
	rm -rf $(VENV) maps/sample maps/sample_hilly
