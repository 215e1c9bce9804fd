# Two commands set everything up on a fresh machine:
#   make table2   creates .venv if missing, installs, builds the SimCLR backbone if missing,
#                 runs the cpu protocol's Table 2
#   make test     creates .venv if missing, installs, runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the cpu protocol's backbone: SimCLR weights built here from the training images (data-derived, never in git)
CACHE := $(or $(ADACM_CACHE),$(HOME)/.cache/adacm)
SIMCLR := $(CACHE)/simclr_resnet18.pt

.PHONY: table2 test smoke pretrain backbone figures notebooks clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# built only when missing (~83 min on 2 cores); a stored run made from other weights is trained again
$(SIMCLR): | $(STAMP)
	$(PY) -m adacm.cli pretrain

table2: $(STAMP) $(SIMCLR)
	$(PY) experiments/table2.py

test: $(STAMP)
	$(PY) -m pytest -q

smoke: $(STAMP)
	$(PY) experiments/table2.py --protocol smoke

pretrain: $(STAMP)
	$(PY) -m adacm.cli pretrain

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
