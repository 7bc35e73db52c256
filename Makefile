# One command to set up and run, one to test (see README.md).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test check

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $@

# The public tests, phase by phase, on the student release (ARGS="--impl solutions" for the reference).
check: setup
	$(BIN)/cnnkit check $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)
