# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# (Re)installed when the lock, pyproject.toml or the version changes. Every Python dependency,
# transitive ones included, is pinned with hashes in requirements.lock
# (pip-compile of pyproject.toml, Python 3.11, x86_64 Linux). `make lock` refreshes it.
LOCK := requirements.lock
CORES ?= all
# `make report REPORT=report.zip` for the zipped report (results as files beside the HTML).
REPORT ?= report.html

.PHONY: demo test lint report clean lock

$(STAMP): $(LOCK) pyproject.toml src/dynbus/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

# Re-resolve pyproject.toml's ranges to the newest releases, with hashes (review the diff, then
# update envs/*.yaml: tests/test_envs.py checks they agree with the lock).
lock:
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet 'pip-tools==7.6.2'
	.lock-venv/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --extra dev \
		--no-emit-index-url --no-emit-find-links --strip-extras -o $(LOCK) pyproject.toml
	rm -rf .lock-venv

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --profile profiles/default

report: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --profile profiles/default --report $(REPORT)

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q --durations=25

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	$(BIN)/snakefmt --check Snakefile workflow
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint

clean:
	rm -rf results logs .snakemake report.html
