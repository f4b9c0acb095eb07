#!/usr/bin/env bash
# Runs the reliability suite against each deliberate defect of the engine (cargo feature
# `defects` on crate rbolt; RBOLT_DEFECT=<name> switches one on) and prints which tests fail.
# A defect no test catches is a hole in the harness. Output: a markdown table.
#
#   scripts/defects.sh            # all defects, CI-sized counts (a few minutes each)
#   scripts/defects.sh early-release wrong-meta-parity
set -uo pipefail
cd "$(dirname "$0")/.."
defects=("$@")
[ ${#defects[@]} -eq 0 ] && defects=(none skip-data-sync meta-before-data early-release wrong-meta-parity ignore-checksum split-off-by-one)
# Smaller counts than CI: a defect shows up fast, and this runs once per defect.
export RBOLT_CRASH_IMAGES=${RBOLT_CRASH_IMAGES:-6000}
export RBOLT_FAULT_WORKLOADS=${RBOLT_FAULT_WORKLOADS:-4}
export RBOLT_KILL_CYCLES=${RBOLT_KILL_CYCLES:-40}
export RBOLT_HOSTILE_CASES=${RBOLT_HOSTILE_CASES:-3000}
export RBOLT_STRESS_SECS=${RBOLT_STRESS_SECS:-3}
filters=(crash:: faults:: killnine:: hostile:: stress::)
cargo test -p rbolt-testkit --features rbolt/defects --test it --no-run 2>&1 | tail -1
log=$(mktemp -d)
echo
echo "| defect | failing tests | passing |"
echo "| --- | --- | --- |"
for d in "${defects[@]}"; do
    if [ "$d" = none ]; then unset RBOLT_DEFECT; else export RBOLT_DEFECT=$d; fi
    cargo test -p rbolt-testkit --features rbolt/defects --test it -- "${filters[@]}" \
        > "$log/$d.out" 2>&1
    failed=$(grep -E '^test .* \.\.\. FAILED$' "$log/$d.out" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | tr '\n' ' ')
    # -q prints dots; count passes from the summary line.
    passed=$(grep -Eo '[0-9]+ passed' "$log/$d.out" | tail -1)
    if [ -z "$failed" ]; then
        failed=$(grep -Eo '^    [a-z_:]+$' "$log/$d.out" | tr -d ' ' | sort -u | tr '\n' ' ')
    fi
    if [ "$d" = none ]; then
        echo "| (no defect: baseline) | ${failed:-none} | ${passed:-?} |"
    else
        echo "| \`$d\` | ${failed:-**none — not caught**} | ${passed:-?} |"
    fi
done
echo
echo "(full outputs in $log)"
