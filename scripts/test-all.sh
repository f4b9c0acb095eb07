#!/usr/bin/env bash
# Runs every check CI runs: installs what a fresh machine lacks (tmux, lmdb-utils, Go and
# Debian's bbolt for the interop tests), then fmt, clippy, docs, the test suite once per freelist type, and builds of
# the benches and fuzz targets where present. Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "system packages (tmux for terminal tests, lmdb-utils for dump-format round trips)"
need=
command -v tmux >/dev/null 2>&1 || need="$need tmux"
command -v mdb_load >/dev/null 2>&1 || need="$need lmdb-utils"
if [ -n "$need" ]; then
  sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  $sudo apt-get install -y $need || { $sudo apt-get update && $sudo apt-get install -y $need; }
fi

step "Go bbolt helper (interop tests)"
# Builds interop/go/bin/bbolt-interop, installing golang-go and bbolt from Debian if missing.
interop/go/build.sh
export RBOLT_REQUIRE_GO=1
# lmdb-utils was installed above: the mdb_dump round trips must run, not skip.
export RBOLT_REQUIRE_LMDB=1

step "no import cycles among any crate's top-level modules"
python3 scripts/module-cycles.py

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p rbolt --features defects --all-targets -- -D warnings
cargo clippy -p rbolt --features serde --all-targets -- -D warnings

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

for fl in array hashmap; do
  step "cargo test (freelist $fl)"
  RBOLT_TEST_FREELIST=$fl cargo test --workspace
done

step "typed buckets with the serde feature"
cargo test -p rbolt --features serde --test it typed

step "API examples (each asserts what it prints)"
for ex in basic nested typed readers backup_compact tokio; do
  cargo run -q -p rbolt --example "$ex"
done

if [ -x scripts/ci-extra.sh ]; then
  step "extra CI checks"
  scripts/ci-extra.sh
fi
