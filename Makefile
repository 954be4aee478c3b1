# Two commands: `make demo` and `make test`. Each sets everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup data demo test test-fast lint format clean base-models

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

data:
	@bash scripts/install_data.sh

setup: $(STAMP) data

demo: setup
	$(VENV)/bin/keras-ssl demo

test: setup
	$(PY) -m ruff check keras_ssl tests examples benchmarks scripts conftest.py
	$(PY) -m ruff format --check keras_ssl tests examples benchmarks scripts conftest.py
	$(PY) -m pytest -n 2 --dist loadfile -q --durations=30
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules keras_ssl

# The general base models, text and image (keras-hub presets, cached in
# ~/.cache/keras_ssl/base; the image packages are fetched with apt-get download).
base-models: setup
	@bash scripts/install_data.sh --general-text
	$(VENV)/bin/keras-ssl build-base
	$(VENV)/bin/keras-ssl build-base --name image

test-fast: setup
	$(PY) -m pytest -n 2 --dist loadfile -q -m "not slow"

lint: setup
	$(PY) -m ruff check keras_ssl tests examples benchmarks scripts conftest.py

format: setup
	$(PY) -m ruff format keras_ssl tests examples benchmarks scripts

clean:
	rm -rf $(VENV) runs .pytest_cache
