# Two commands matter: `make lab` (start here) and `make test`. The rest are for
# running the environment by hand, grading notebooks and maintaining the labs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root,)
SANITIZE := solutions/sanitize.cfg

.PHONY: lab test venv env env-down env-status env-reset check labs validate lint bench outputs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

## lab: create the venv, start and provision the environment, open JupyterLab on labs/
lab: $(STAMP) env
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=labs $(ROOT_ARG) $(LAB_ARGS)

## test: everything: lint, unit and integration tests, graders on labs and solutions, nbval
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests solutions --nbval --nbval-current-env --nbval-sanitize-with $(SANITIZE)

env: $(STAMP)
	$(PY) -m environment up

env-down: $(STAMP)
	$(PY) -m environment down

env-status: $(STAMP)
	$(PY) -m environment status

env-reset: $(STAMP)
	$(PY) -m environment reset

## check: grade your notebooks headless (LAB=1 for one lab, or NOTEBOOKS="a.ipynb folder/")
check: $(STAMP)
	$(PY) -m checks $(or $(NOTEBOOKS),$(if $(LAB),$(wildcard labs/0$(LAB)-*.ipynb),labs))

## labs: regenerate labs/ from solutions/ (never edit labs/ by hand)
labs: $(STAMP)
	$(PY) -m checks.labgen

## validate: nbval over the solutions, comparing their stored outputs
validate: $(STAMP)
	$(PY) -m pytest solutions --nbval --nbval-current-env --nbval-sanitize-with $(SANITIZE)

## outputs: re-execute the solutions in place (after editing them), then regenerate labs/
outputs: $(STAMP)
	cd solutions && ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace *.ipynb
	$(PY) -m checks.labgen

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m bench

clean:
	-$(PY) -m environment down
	rm -rf $(VENV) .lab .pytest_cache .ruff_cache
