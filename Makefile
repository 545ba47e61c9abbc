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

test: $(VENV)/.ready
	$(BIN)/python -m pytest

$(VENV)/.ready: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

clean:
	rm -rf $(VENV) runs .pytest_cache
