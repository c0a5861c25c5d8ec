# The course in two commands (see README.md):
#   make course   set up, then execute every chapter in quick mode (copies with outputs in _build/quick/)
#   make test     set up, then run the unit tests, the notebook checks and every chapter under nbval
# Other targets: make setup, make lab (JupyterLab on the notebooks), make sync (pair .ipynb <-> .py),
#   make book (the course book, _build/html; then python tools/check_book.py), make slides (_build/slides)
# For maintainers: make unit (the fast tests, a few minutes), make lint (ruff), make generated (rewrite every
#   generated file from the chapters), make check-generated (fail if one is not current; CI runs it), make help
# The first Python 3.11, 3.12 or 3.13 on PATH (the pinned wheels exist for those; macOS's own python3 is 3.9),
# or the one named: make PYTHON=python3.12 course
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell command -v $(p) >/dev/null 2>&1 \
	&& $(p) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' 2>/dev/null && echo $(p))))
VENV   ?= .venv
BIN    := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: simulate-hosts help setup course lab test unit lint generated check-generated grade-check test-backends sync clean book slides

help:
	@sed -n '1,/^PYTHON/p' Makefile | grep '^#' | cut -c3-

$(BIN)/activate: pyproject.toml
	@if [ "$$(uname -s)" = Darwin ] && [ "$$(uname -m)" = x86_64 ]; then echo "error: Intel Macs have no \
	TensorFlow 2.21 (nor jaxlib, onnxruntime): run the course on Colab, Kaggle or Binder (README, Run it)"; exit 1; fi
	@test -n "$(PYTHON)" || { echo "error: no Python 3.11, 3.12 or 3.13 on PATH: install one (python.org, or \
	e.g. brew install python@3.12 / apt install python3.12-venv), then: make PYTHON=python3.12 $(MAKECMDGOALS)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' || { echo "error: \
	$(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'): the course needs \
	3.11, 3.12 or 3.13 (make PYTHON=python3.12 $(MAKECMDGOALS))"; exit 1; }
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

# The fast loop: the unit tests without those marked slow (training, exports, fresh TensorFlow processes) and
# without the notebooks under nbval; `make test` runs everything.
unit: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" tests/

$(VENV)/.lint-installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	touch $@

lint: $(VENV)/.lint-installed
	$(BIN)/ruff check .

# Every generated file: tools/course_repo.py points the links of the Markdown files (README, teachers' guide) at
# the repository it names, then runs the generators in order: the chapters' badges and setup cell
# (stamp_headers), students/ (no solutions, no outputs), the book's generated pages and table of contents,
# classroom/source/ (assignments). check-generated runs every check and fails if any file is stale.
GENERATORS := tools/stamp_headers.py tools/make_student_copies.py tools/make_book.py tools/make_assignments.py

generated: setup
	$(BIN)/python tools/course_repo.py

check-generated: setup
	status=0; for tool in tools/course_repo.py $(GENERATORS); do $(BIN)/python $$tool --check || status=1; done; \
		exit $$status

# The graded assignments (classroom/, nbgrader): nbgrader releases each chapter's assignment in a scratch course
# folder, then autogrades its solution version (every autograded point, or it fails) and its blank student version
# (zero, or it fails); tools/make_assignments.py prints the scores and the time.
grade-check: setup
	$(BIN)/python -m pip install --quiet -e ".[grading]"
	$(BIN)/python tools/make_assignments.py --grade _build/grading

# Colab, Kaggle, Binder and laptops simulated (tools/simulate_hosts.py): older TensorFlow/Keras/protobuf than the
# pins, fake host modules, the setup cell's real clone, a chapter and chapter 10's ONNX path; Binder's environment
# resolved beside its Jupyter stack; the `course` extra resolved per laptop platform. Measured on the shared 2-core
# CPU (load ~9): colab 7.7 min, kaggle 6.9, binder 0.4, laptops 5.3, plus ~7 min once to build the ~2 GB of host
# packages in _build/hosts (reused after). HOSTS=colab,kaggle picks some.
simulate-hosts: setup
	$(BIN)/python tools/simulate_hosts.py $(if $(HOSTS),--hosts $(HOSTS))

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
