# Two commands set everything up on a fresh machine:
#   make table2     creates .venv if missing, installs, prints the cpu protocol's Table 2 from the
#                   stored runs; trains what is missing (first saying what and how long, and
#                   building the SimCLR backbone only if a run to train needs it)
#   make test       creates .venv if missing, installs, runs the test suite
#   make test-fast  the tests that train nothing (development)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: table2 test test-fast smoke pretrain backbone figures notebooks clean-venv device-check

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# runs side by side: more runs per hour than one at a time on 2 cores (docs/operations.md, "Speed": experiments/jobs_throughput.py)
JOBS ?= 2

table2: $(STAMP)
	$(PY) experiments/table2.py --jobs $(JOBS)

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

smoke: $(STAMP)
	$(PY) experiments/table2.py --protocol smoke

pretrain: $(STAMP)
	$(PY) -m adacm.cli pretrain

# on a machine with a GPU only (the device tool's sessions): bench at 224 px + a short paper grid
device-check: $(STAMP)
	$(PY) -m adacm.studies.device_check

backbone: $(STAMP)
	$(PY) -m adacm.cli backbone dlib-face

clean-venv:
	rm -rf $(VENV)

# jupytext sources (notebooks/*.py) → paired .ipynb → executed by papermill → figures/
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --to ipynb --update notebooks/*.py

# paper_tables runs once per table; every other notebook once
figures: notebooks
	for nb in $(filter-out notebooks/paper_tables.ipynb,$(wildcard notebooks/*.ipynb)); do \
		$(VENV)/bin/papermill -k python3 --cwd . $$nb /tmp/$$(basename $$nb) || exit 1; done
	for t in 1 2 3 4; do \
		$(VENV)/bin/papermill -k python3 --cwd . notebooks/paper_tables.ipynb /tmp/paper_tables_$$t.ipynb -p table $$t || exit 1; done
