#!/usr/bin/env bash
# Long reliability soak (docs/reliability.md). Same tests as CI, bigger counts, release build.
#
#   scripts/soak.sh                 # full targets: 1,000,000 crash images, 20,000 kill -9 cycles, ...
#   RBOLT_CRASH_IMAGES=300000 RBOLT_KILL_CYCLES=2000 scripts/soak.sh   # a shorter soak
#
# Every count is an env var; RBOLT_SEED moves every generator to new territory.
set -euo pipefail
cd "$(dirname "$0")/.."
export RBOLT_CRASH_IMAGES=${RBOLT_CRASH_IMAGES:-1000000}
export RBOLT_FAULT_WORKLOADS=${RBOLT_FAULT_WORKLOADS:-200}
export RBOLT_KILL_CYCLES=${RBOLT_KILL_CYCLES:-20000}
export RBOLT_HOSTILE_CASES=${RBOLT_HOSTILE_CASES:-1000000}
export RBOLT_STRESS_SECS=${RBOLT_STRESS_SECS:-600}
export RBOLT_SEED=${RBOLT_SEED:-$(date +%s)}
echo "soak: seed $RBOLT_SEED crash images $RBOLT_CRASH_IMAGES, fault workloads $RBOLT_FAULT_WORKLOADS," \
     "kill cycles $RBOLT_KILL_CYCLES, hostile cases $RBOLT_HOSTILE_CASES, stress ${RBOLT_STRESS_SECS}s"
start=$(date +%s)
# One test at a time so each gets the machine; the regressions module (known open bugs) and
# the interop suite are not part of the soak.
cargo test --release -p rbolt-testkit --test it -- --test-threads=1 --nocapture \
    crash:: faults:: killnine:: hostile:: stress::
echo "soak: finished in $(( $(date +%s) - start ))s"
