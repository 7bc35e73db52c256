# One command to set up and run, one to test (see README.md).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system-deps bubblewrap train test check

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $@

# bubblewrap is the grader's sandbox (Debian/Ubuntu, as root). Without it `cnnkit grade` still
# works, with resource limits only and a loud warning. dataset-fashion-mnist installs
# Fashion-MNIST in /usr/share/datasets/fashion-mnist (`cnnkit train --dataset fashion`).
system-deps: bubblewrap
	command -v bwrap >/dev/null
	test -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz || \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)

# The main job: the reference trains the guide's CNN on all of MNIST to >= 99% test accuracy.
# MNIST: DATA=folder, else $$CNNKIT_DATA, else downloaded into the user's cache.
train: setup
	$(BIN)/cnnkit train $(if $(DATA),--data $(DATA)) $(ARGS)

# The public tests, phase by phase, on the student release (ARGS="--impl solutions" for the reference).
check: setup
	$(BIN)/cnnkit check $(ARGS)

# bubblewrap, installed when this runs as root with apt-get; otherwise `make test` goes on and the
# sandbox tests are skipped with the instruction (CI sets CNNKIT_REQUIRE_SANDBOX=1: they fail).
bubblewrap:
	@command -v bwrap >/dev/null || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	  apt-get install -y -qq bubblewrap; } || \
	echo "bubblewrap is not installed: the grader's sandbox tests will be skipped" \
	     "(install it: sudo apt-get install bubblewrap)"

# The whole suite. MNIST: $$CNNKIT_DATA, else ../shared/data/mnist, else the user cache
# (downloaded on first use; tests/mnist_source.py).
test: setup bubblewrap
	$(BIN)/python -m pytest $(ARGS)
