# Two commands set everything up on a fresh machine:
#   make table2   creates .venv if missing, installs, builds the SimCLR backbone if missing,
#                 runs the cpu protocol's Table 2
#   make test     creates .venv if missing, installs, runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: table2 test smoke pretrain backbone figures notebooks clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# the cpu protocol's backbone: SimCLR weights made here from the training images (data-derived, kept
# in ADACM_CACHE, never in git), built only when missing (~83 min on 2 cores); the path is asked of
# adacm itself so that the cache rule lives in one place. A stored run made from other weights is
# trained again.
table2: $(STAMP)
	$(PY) -c "import sys; from adacm.pretrain import simclr_weights_path as p; sys.exit(not p('resnet18').is_file())" \
		|| $(PY) -m adacm.cli pretrain
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
