# `make run` and `make test` do all set-up themselves: each creates .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench poll serve cog clean

# setuptools upgraded too: tests/test_install.py builds the wheel with this venv's setuptools (no
# build isolation), and a new venv's copy is older than pyproject's [build-system] requires.
$(BIN)/tracker: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/tracker

# The main job, offline: serve the bundled sample feeds locally, poll them, open the workspace.
run: $(BIN)/tracker
	$(BIN)/tracker demo

# Everything: the lint gate, the README's generated sections, every test including the slow
# tier. The inner loop while editing is `$(BIN)/pytest -m "not slow"`.
test: lint
	$(BIN)/cog --check README.md
	$(BIN)/pytest -q

# pyflakes, pycodestyle errors, import order and bugbear (ruff); the package's types (mypy).
lint: $(BIN)/tracker
	$(BIN)/ruff check tracker tests benchmarks
	$(BIN)/mypy tracker

# Speed against reader 3.26 and the targets, written to benchmarks/REPORT.md (about 35 minutes:
# a million publications ingested and served).
bench: $(BIN)/tracker
	$(BIN)/python benchmarks/run.py

# Poll the real publishers once (needs internet).
poll: $(BIN)/tracker
	$(BIN)/tracker poll

serve: $(BIN)/tracker
	$(BIN)/tracker serve

cog: $(BIN)/tracker
	$(BIN)/cog -r README.md

clean:
	rm -rf $(VENV) build *.egg-info
