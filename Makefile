# Two commands do everything on a fresh machine:
#   make run    set up .venv (when missing) and run the seed experiment: sinefit fit
#   make test   set up .venv (when missing) and run the test suite
# torch is installed first and on its own: TORCH picks the build (see README). With a C compiler,
# pip install also builds sinefit's compiled pass over large .npy files (setup.py: src/sinefit/_kernel.c);
# without one it skips it and numpy does the work (tests/test_fastpass.py then skips, saying why).

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin

.PHONY: run test bench clean chromium

run: $(VENV)/.ready
	$(BIN)/sinefit fit

test: $(VENV)/.ready-test chromium
	$(BIN)/python -m pytest

$(VENV)/.ready: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests also need pytest, hypothesis, the MLflow extra (its round trip is tested), the
# playground's serve extra with Playwright (its browser tests), Dask (a local cluster), moto's
# S3 server (remote data sets), pyspark (the Spark recipe; it skips without Java) and the notebook
# extra (the tour notebook runs).
$(VENV)/.ready-test: $(VENV)/.ready
	$(BIN)/python -m pip install --quiet -e ".[test,mlflow,serve,browser,dask,spark,s3test,notebook]"
	touch $@

# The playground's browser tests drive Debian's Chromium (Playwright's own browser download is not
# reachable): installed here as root with apt when missing; otherwise those tests skip, saying why.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get): the browser tests will skip"; fi

bench: $(VENV)/.ready
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
