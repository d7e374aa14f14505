# Everything a fresh machine needs, from this repository's own files: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint browser bench clean

$(BIN)/news-ingest: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(BIN)/news-ingest
	$(BIN)/news-ingest demo

lint: $(BIN)/news-ingest
	$(BIN)/ruff check pipeline tests benchmarks

test: lint browser
	$(BIN)/python -m pytest

browser:   # the report test renders HTML in headless Chromium (Debian's package)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test-fast: lint   # pure modules only: no Beam, no sockets
	$(BIN)/python -m pytest tests/unit

bench: $(BIN)/news-ingest
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) demo-output *.egg-info
