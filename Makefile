# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make demo   set up, then convert -> generate -> build -> run on the emulated board -> benchmark table
#   make test   set up, then run the test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) examples/demo.py --out out/demo

test: setup
	$(VENV)/bin/ruff check edgekit tests benchmarks examples fuzz
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check edgekit tests benchmarks examples fuzz

bench: setup
	$(PY) benchmarks/convert.py
	$(PY) benchmarks/runtime.py

clean:
	rm -rf out build .pytest_cache
