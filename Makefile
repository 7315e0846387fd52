# Two commands matter: `make lab` (start here) and `make test`. The rest are for
# running the environment by hand, grading notebooks and maintaining the labs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The installer: uv installs the locked versions in seconds. The uv on PATH is used when there
# is one; otherwise the interpreter's own pip fetches a pinned uv into .tools/ (a few seconds).
# INSTALLER=pip is the slow fallback, for a machine where uv cannot run.
INSTALLER ?= uv
UV_PIN := 0.13.9
TOOLS  := .tools
UV     ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/uv/bin/uv)
# A folder of wheels (`make wheelhouse`) makes the install work with no network at all.
WHEELS := wheels

.PHONY: lab test test-browser venv env env-down env-status env-reset check labs validate lint \
	bench outputs clean lock upgrade wheelhouse bench-install progress

$(TOOLS)/uv/bin/uv:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(TOOLS)/uv "uv==$(UV_PIN)"

# uv compiles the installed packages to bytecode up front (pip does by default): every emulator,
# kernel and grader process then imports them without compiling, even where the environment says
# PYTHONDONTWRITEBYTECODE (as many containers do), which otherwise costs each process seconds.
$(STAMP): pyproject.toml uv.lock requirements.txt | $(if $(filter uv,$(INSTALLER)),$(UV))
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
ifeq ($(INSTALLER),pip)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
else ifneq ($(wildcard $(WHEELS)/*.whl),)
	@echo "Installing from $(WHEELS)/ (no network needed)"
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync --quiet --compile-bytecode --offline --no-index --find-links $(WHEELS) \
		requirements.txt
	VIRTUAL_ENV=$(VENV) $(UV) pip install --quiet --offline --no-index --find-links $(WHEELS) --no-deps -e .
else
	$(UV) sync --quiet --locked --extra test --compile-bytecode --python $(PYTHON)
endif
	@# The labs run offline: JupyterLab asks for no news and no update checks.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp binder/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

venv: $(STAMP)

## lab: create the venv, start and provision the environment, open JupyterLab on labs/
# Kernels get CurveZMQ keys from the server (binder/jupyter_server_config.json, as in the
# repo2docker image), so ipykernel has no "running over TCP without encryption" warning; a
# libzmq built without Curve keeps Jupyter's default rather than failing to start.
lab: $(STAMP) env
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=labs $(ROOT_ARG) \
		$$($(PY) -c 'import zmq; print("--config=binder/jupyter_server_config.json" if zmq.has("curve") else "")') \
		$(LAB_ARGS)

## test: everything: lint, unit and integration tests, graders on labs and solutions, nbval, and
## the browser smoke test when Chromium is installed (skipped, and listed as skipped, otherwise)
test: $(STAMP)
	$(VENV)/bin/ruff check .
	UV=$(UV) $(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile tests solutions --nbval \
		--nbval-current-env

## test-browser: only the real-browser smoke test (JupyterLab in headless Chromium); fails without Chromium
test-browser: $(STAMP)
	LAB_REQUIRE_BROWSER=1 $(PY) -m pytest tests/test_browser.py

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

## progress: which exercises of which labs pass, from the checks you ran in the notebooks
progress: $(STAMP)
	@$(PY) -c 'from checks import progress; print(repr(progress()))'

## labs: regenerate labs/ from solutions/ (never edit labs/ by hand)
labs: $(STAMP)
	$(PY) -m checks.labgen

## validate: nbval over the solutions, comparing their stored outputs
validate: $(STAMP)
	$(PY) -m pytest solutions --nbval --nbval-current-env

## outputs: re-execute the solutions in place (after editing them), then regenerate labs/
outputs: $(STAMP)
	cd solutions && ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False *.ipynb
	$(PY) -m checks.labgen

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m bench

## lock: pin every dependency (uv.lock, with hashes) and export requirements.txt for pip and Binder
lock: | $(UV)
	$(UV) lock
	$(UV) export --quiet --locked --extra test --no-emit-project -o requirements.txt

## upgrade: move the lock to the newest versions pyproject.toml allows; the test suite is the gate
upgrade: | $(UV)
	$(UV) lock --upgrade
	$(UV) export --quiet --locked --extra test --no-emit-project -o requirements.txt
	$(MAKE) test

## wheelhouse: download every locked wheel into wheels/, for rooms without a network
wheelhouse: | $(UV)
	mkdir -p $(WHEELS)
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps --prefer-binary \
		-r requirements.txt -d $(WHEELS)
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps --prefer-binary \
		"setuptools>=68" -d $(WHEELS)
	@echo "$(WHEELS)/ holds $$(ls $(WHEELS) | wc -l) files for this platform and Python."

## bench-install: time the install and `make lab` from a fresh clone with an empty cache (needs the network)
bench-install: $(STAMP)
	$(PY) -m bench.install

clean:
	-$(PY) -m environment down
	rm -rf $(VENV) $(TOOLS) .lab .pytest_cache .ruff_cache tests/_artifacts
