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

# The tests run on one pytest-xdist worker per core (-n auto), a test module whole on one worker so
# that its module fixtures (a browser, a province, a generated county) are built once (--dist loadfile;
# --no-loadscope-reorder keeps the collection order, in which tests/conftest.py puts the slowest
# modules first, so that the workers end together).
# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: pytest otherwise rewrites the asserts
# of every test module again in every worker (~4 s each). `.venv/bin/python -m pytest` runs in one process.
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

bench: install
	$(BIN)/python scripts/benchmark_core.py

clean:
	rm -rf $(VENV) maps/sample maps/sample_hilly
