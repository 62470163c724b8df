# Two commands do everything on a fresh machine (see README):
#   make run    set up .venv, prepare the data, execute the four notebooks in place, export the report
#   make test   set up .venv, run the test suite
# Others: make smoke (whole chain on tiny data in a temporary folder), make report, make bench.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= auto

.PHONY: setup run test smoke report clean-venv

setup: $(STAMP)

# (re)install when pyproject.toml changes; an existing .venv is reused
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e .
	@touch $(STAMP)

run: setup
	$(PY) -m tinyseg.pipeline run --profile $(PROFILE)

test: setup
	$(PY) -m pytest

smoke: setup
	$(PY) -m tinyseg.pipeline smoke

report: setup
	$(PY) -m tinyseg.pipeline run --only 04

clean-venv:
	rm -rf $(VENV)
