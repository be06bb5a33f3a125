#!/usr/bin/env bash
# The README's first command: install the Debian packages, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make -j"$(nproc)" all
bash scripts/demo.sh
