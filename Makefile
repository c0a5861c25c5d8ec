# The course in two commands (see README.md):
#   make course   set up, then execute every chapter in quick mode (copies with outputs in _build/quick/)
#   make test     set up, then run the unit tests, the notebook checks and every chapter under nbval
# Other targets: make setup, make lab (JupyterLab on the notebooks), make sync (pair .ipynb <-> .py),
#   make book (the course book, _build/html; then python tools/check_book.py), make slides (_build/slides)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup course lab test test-backends sync clean book slides

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[course,test]"
	touch $(BIN)/activate

setup: $(BIN)/activate

course: setup
	mkdir -p _build/quick
	cd notebooks && for nb in $(notdir $(NOTEBOOKS)); do \
		start=$$(date +%s); \
		FER_QUICK=1 FER_FIGURES=../_build/quick/figures ../$(BIN)/jupyter nbconvert --to notebook --execute $$nb --output-dir ../_build/quick \
			--ExecutePreprocessor.timeout=900 --log-level=ERROR || exit 1; \
		echo "$$nb: $$(( $$(date +%s) - start )) s in quick mode"; \
	done
	@echo "done: executed copies in _build/quick/ (the committed notebooks are untouched); 'make lab' opens JupyterLab"

lab: setup
	$(BIN)/jupyter lab notebooks/

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/
	cd notebooks && FER_QUICK=1 FER_FIGURES=../_build/test-figures ../$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax \
		--nbval-cell-timeout=900 $(notdir $(NOTEBOOKS))

# The helpers are backend-agnostic Keras 3: the same unit tests under the JAX and the PyTorch backends.
test-backends: setup
	$(BIN)/python -m pip install --quiet -e ".[backends]"
	for backend in jax torch; do \
		KERAS_BACKEND=$$backend $(BIN)/python -m pytest -q -p no:cacheprovider tests/ \
			--ignore=tests/test_notebooks.py --ignore=tests/test_book_tools.py || exit 1; \
	done

sync:
	cd notebooks && ../$(BIN)/jupytext --sync [0-9][0-9]_*.ipynb

clean:
	rm -rf _build .cache runs

# Slides for the classroom: _build/slides/NN_*.slides.html, reveal.js, from the committed outputs (tools/make_slides.py).
slides: setup
	$(BIN)/python tools/make_slides.py
	@echo "slides: _build/slides/ (reveal.js is loaded from its CDN: open them with internet access)"

# The book: a static site of the chapters with their committed outputs (nothing is executed), _build/html/index.html.
# `python tools/check_book.py` then checks it in headless Chromium (titles, launch links, links, images).
$(VENV)/.book-installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[course,test,book]"
	touch $@

book: $(VENV)/.book-installed
	$(BIN)/python tools/make_book.py
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --warningiserror --keep-going
	@echo "book: _build/html/index.html"
