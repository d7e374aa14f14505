# Everything a fresh machine needs, from this repository's own files: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint browser spark-delta bench clean

$(BIN)/news-ingest: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(BIN)/news-ingest
	$(BIN)/news-ingest demo

lint: $(BIN)/news-ingest
	$(BIN)/ruff check pipeline tests benchmarks

test: lint browser spark-delta
	$(BIN)/python -m pytest

browser:   # the report test renders HTML in headless Chromium (Debian's package)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# Spark reading a Delta table (tests/e2e/test_delta.py): the newest delta-spark (4.4.0) is built
# for Spark 4.2 and fails on the venv's newer pyspark, so that test runs Spark 4.2 from here with
# the two Delta jars from Maven Central; the venv keeps its own pyspark.
SPARK_DELTA := build/spark-delta
spark-delta: $(SPARK_DELTA)/ready
$(SPARK_DELTA)/ready: | $(BIN)/news-ingest
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --target $(SPARK_DELTA)/python pyspark==4.2.0
	for jar in io.delta:delta-spark_2.13:4.4.0 io.delta:delta-storage:4.4.0; do \
	  mvn -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy -Dartifact=$$jar \
	      -DoutputDirectory=$(SPARK_DELTA)/jars || exit 1; done
	touch $@

test-fast: lint   # pure modules only: no Beam, no sockets
	$(BIN)/python -m pytest tests/unit

bench: $(BIN)/news-ingest
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) demo-output *.egg-info build
