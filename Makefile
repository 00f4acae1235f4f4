# nethelpers: `make report` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := data/demo
DEMO_PATIENTS ?= 60
DEMO_SEED ?= 0

.PHONY: setup report demo test lint lab bench clean-report

setup:  ## system packages (apt, when root), .venv, editable install; idempotent
	@PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup  ## the synthetic demo study in data/demo (kept if already complete)
	$(PY) -m nethelpers demo --out $(DEMO) --patients $(DEMO_PATIENTS) --seed $(DEMO_SEED) --if-missing

report: demo  ## regenerate reports/demo from the demo study
	$(PY) -m nethelpers report -f parameters/demo.yaml

test: setup  ## the whole test suite (napari tests under Xvfb via pytest-xvfb)
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .

lab: setup  ## JupyterLab on the project
	$(VENV)/bin/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: setup  ## benchmarks (not in CI); figures go to benchmarks/RESULTS.md
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-report:
	rm -rf reports/demo
