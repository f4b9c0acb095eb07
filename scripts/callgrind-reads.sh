#!/usr/bin/env bash
# Instructions the engine executes per read on a read transaction, counted by callgrind:
# a point `get` of an existing key, and a range read of 10 entries (one seek, then steps).
#
# Usage: scripts/callgrind-reads.sh [N]        (N keys in the tree, default 100000)
#
# Instruction counts do not depend on machine load, so they compare two commits on a shared
# machine where timings cannot. The workload is rbolt-bench's (crates/rbolt-bench/README.md):
# N random 24-byte keys with 150-byte values are loaded, then the bench's write phases run,
# then `random_reads` does N gets of existing keys in random key order and
# `random_range_reads` does N/2 range reads yielding 10 entries each (one seek, nine steps),
# each phase three times in one read transaction.
#
# Method: one callgrind run per phase. RBOLT_BENCH_PROFILE sends that phase (only) through
# `workload::profiled`, and callgrind collects only inside that function
# (--collect-atstart=no --toggle-collect), so loading, the write phases and every other phase
# are not counted. The collected total divided by 3 x the phase's operations is the figure.
# It includes the harness's own per-operation work (deriving the key from its index, summing
# the value): about 70 instructions per get that no engine change affects. The counts are
# deterministic: repeated runs agree to a few instructions per million operations.
#
# Prints:
#   instr/get            <instructions per get>
#   instr/seek+10next    <instructions per range read of 10 entries>
# Progress and the build go to stderr. Set KEEP=1 to keep the callgrind files (their path is
# printed) for callgrind_annotate.
set -euo pipefail

n=${1:-100000}
case $n in
'' | *[!0-9]*)
    echo "usage: $0 [N]   (N: number of keys, default 100000)" >&2
    exit 2
    ;;
esac
command -v valgrind >/dev/null || {
    echo "$0: valgrind not found (apt-get install valgrind)" >&2
    exit 1
}

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release -p rbolt-bench >&2)
bin=$target/release/rbolt-bench

work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then
    echo "callgrind files kept in $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi
mkdir "$work/db-random_reads" "$work/db-random_range_reads"

# One run per phase: a run counts every call of `workload::profiled`, i.e. the phase's three
# iterations together.
count() { # phase -> instructions collected inside it
    RBOLT_BENCH_PROFILE=$1 valgrind --tool=callgrind \
        --collect-atstart=no --toggle-collect='*workload::profiled*' \
        --callgrind-out-file="$work/callgrind.out.$1" \
        "$bin" __child rbolt main "$n" "$work/db-$1" >"$work/child-$1.out" 2>"$work/valgrind-$1.log" || {
        tail -20 "$work/valgrind-$1.log" >&2
        echo "$0: the profiled run of $1 failed" >&2
        exit 1
    }
    local total
    total=$(awk '/^(totals|summary):/ { print $2; exit }' "$work/callgrind.out.$1")
    if [ -z "$total" ] || [ "$total" -eq 0 ]; then
        echo "$0: callgrind collected nothing for $1 (is rbolt-bench's workload::profiled gone?)" >&2
        exit 1
    fi
    echo "$total"
}

echo "counting random_reads under callgrind, n = $n..." >&2
reads=$(count random_reads)
echo "counting random_range_reads under callgrind, n = $n..." >&2
ranges=$(count random_range_reads)
iterations=3
echo "collected: random_reads $reads, random_range_reads $ranges instructions" >&2
awk -v i="$reads" -v ops=$((iterations * n)) \
    'BEGIN { printf "instr/get            %.0f\n", i / ops }'
awk -v i="$ranges" -v ops=$((iterations * (n / 2))) \
    'BEGIN { printf "instr/seek+10next    %.0f\n", i / ops }'
