#!/usr/bin/env bash
# Extra CI checks run by scripts/test-all.sh: build the fuzz targets on stable and replay
# their corpora, regressions and a few hundred random inputs each.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fuzz-smoke.sh 300
