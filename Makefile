# One command to set up and run, one to test (see README.md).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system-deps train test check

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $@

# bubblewrap is the grader's sandbox (Debian/Ubuntu, as root). Without it `cnnkit grade` still
# works, with resource limits only and a loud warning. dataset-fashion-mnist installs
# Fashion-MNIST in /usr/share/datasets/fashion-mnist (`cnnkit train --dataset fashion`).
system-deps:
	command -v bwrap >/dev/null || (apt-get update -qq && apt-get install -y -qq bubblewrap)
	test -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz || \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)

# The main job: the reference trains the guide's CNN on all of MNIST to >= 99% test accuracy.
# MNIST: DATA=folder, else $$CNNKIT_DATA, else downloaded into the user's cache.
train: setup
	$(BIN)/cnnkit train $(if $(DATA),--data $(DATA)) $(ARGS)

# The public tests, phase by phase, on the student release (ARGS="--impl solutions" for the reference).
check: setup
	$(BIN)/cnnkit check $(ARGS)

test: setup
	$(BIN)/python -m pytest $(ARGS)
