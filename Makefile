# Two commands do everything on a fresh machine:
#   make run    set up .venv (when missing) and run the seed experiment: sinefit fit
#   make test   set up .venv (when missing) and run the test suite
# torch is installed first and on its own: TORCH picks the build (see README).

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin

.PHONY: run test bench clean

run: $(VENV)/.ready
	$(BIN)/sinefit fit

test: $(VENV)/.ready-test
	$(BIN)/python -m pytest

$(VENV)/.ready: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests also need pytest, hypothesis and the MLflow extra (its round trip is tested).
$(VENV)/.ready-test: $(VENV)/.ready
	$(BIN)/python -m pip install --quiet -e ".[test,mlflow]"
	touch $@

bench: $(VENV)/.ready
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
