#!/usr/bin/env bash
# Builds the fuzz targets on the stable toolchain (no libFuzzer) and replays each target's
# corpus, its regressions, and random inputs. CI runs this; see docs/reliability.md for real,
# coverage-guided fuzzing with nightly cargo-fuzz.
#
#   scripts/fuzz-smoke.sh [RUNS]      # RUNS random inputs per target (default 300)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs=${1:-300}
seed=${RBOLT_SEED:-$(date +%s)}
cargo build --release --bins
dir=${CARGO_TARGET_DIR:-target}/release
# Decoding one page is cheap: many more inputs.
"$dir/format_decode" --runs $(( runs * 100 )) --seed "$seed"
"$dir/open_file" --runs "$runs" --seed "$seed"
# ops_model inputs are whole programs with crashes and reopens: fewer, shorter ones.
"$dir/ops_model" --runs $(( runs / 5 + 1 )) --max-len 300 --seed "$seed"
