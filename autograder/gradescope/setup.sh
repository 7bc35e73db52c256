#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (with network access).
# It installs Python >= 3.11, bubblewrap (the sandbox student code runs in), the kit, and MNIST.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"

if [ -z "${CNNKIT_SETUP_SKIP_APT:-}" ]; then  # set only to test this script outside Gradescope
    apt-get update -qq
    apt-get install -y -qq bubblewrap python3-venv python3-pip
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || apt-get install -y -qq python3.11 python3.11-venv
fi
for PYTHON in python3.13 python3.12 python3.11 python3; do  # the first one that runs and is new enough
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && break
done
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --quiet -e "$ROOT/source/kit"
if [ -z "${CNNKIT_DATA:-}" ]; then  # Phase 9 measures accuracy on MNIST's official test set
    "$ROOT/venv/bin/cnnkit" data download --dest "$ROOT/mnist" --quiet
fi
