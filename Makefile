# Two commands do everything on a fresh machine (see README):
#   make run    set up .venv, prepare the data, execute the four notebooks in place, export the report
#   make test   set up .venv, run the test suite (make lint: ruff)
# Others: make smoke (whole chain on tiny data in a temporary folder), make report (04 + HTML/PDF export),
# make lab (JupyterLab in the project's environment: "Run All" in any notebook works from a fresh clone).
# make run skips a training notebook whose runs are finished; make run FORCE="02 03" redoes them
# (the old runs are moved to runs/.previous/). Data found that the runs were not trained on (the course's
# MOON_SEGMENTATION_BINARY beside the checkout, say) is announced and trained on; make run KEEP=1 keeps the runs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= auto
FORCE   ?=
KEEP    ?=

.PHONY: setup run test lint smoke report lab clean-venv

setup: $(STAMP)

# (re)install when pyproject.toml changes; an existing .venv is reused
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e .
	@touch $(STAMP)

run: setup
	$(PY) -m tinyseg.pipeline run --profile $(PROFILE) $(if $(FORCE),--force $(FORCE)) $(if $(KEEP),--keep-runs)

test: setup
	$(PY) -m pytest

# ruff (configured in pyproject.toml): lint the code and the notebooks' code cells, check the formatting
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests tools

smoke: setup
	$(PY) -m tinyseg.pipeline smoke

report: setup
	$(PY) -m tinyseg.pipeline run --only 04

# the kernel "Python 3" of this JupyterLab is .venv's Python, where tinyseg is installed
lab: setup
	$(VENV)/bin/jupyter lab

clean-venv:
	rm -rf $(VENV)
