#!/bin/sh
# Measures `rbolt browse` on a 1,000,000-key bucket in a real terminal (tmux, 120x40): opens
# the bucket, scrolls 10,000 rows one `j` at a time, jumps to the end with `G`, quits. Prints
# the peak RSS, the largest anonymous (heap) RSS seen, and the slowest input and frame from
# the browser's own timings (RBOLT_BROWSE_TIMINGS). Release build; run by hand, not in CI.
#
# usage: scripts/browse-scale.sh [WORKDIR]   (needs tmux; WORKDIR defaults to a temp dir)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$(mktemp -d)}
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -q -p rbolt-cli --manifest-path "$root/Cargo.toml"
bin=$target/release/rbolt
db=$dir/scale.db
[ -f "$db" ] || "$bin" bench --count 1000000 --batch-size 100000 --work --path "$db" >/dev/null
sock=$dir/tmux.sock
tm() { tmux -S "$sock" "$@"; }
wait_for() { # TEXT: poll the pane until TEXT shows (60 s at most)
    i=0
    until tm capture-pane -p | grep -qF -- "$1"; do
        i=$((i + 1)); [ $i -lt 1200 ] || { echo "timeout waiting for $1" >&2; tm capture-pane -p >&2; exit 1; }
        sleep 0.05
    done
}
rm -f "$dir/timings" "$dir/time.txt" "$dir/anon.txt"
tm kill-server 2>/dev/null || true
tm new-session -d -x 120 -y 40 "env PS1='READY> ' sh"
wait_for "READY>"
tm send-keys -l "cd '$dir' && RBOLT_BROWSE_TIMINGS=timings /usr/bin/time -v -o time.txt '$bin' browse scale.db bench"
tm send-keys Enter
wait_for "keys /bench"
shell=$(tm display -p '#{pane_pid}')
timer=$(pgrep -P "$shell")
pid=$(pgrep -P "$timer")
# Sample the heap (anonymous RSS) while the keys arrive.
( while kill -0 "$pid" 2>/dev/null; do grep RssAnon /proc/"$pid"/status >> "$dir/anon.txt" 2>/dev/null || true; sleep 0.05; done ) &
sampler=$!
i=0
while [ $i -lt 100 ]; do
    tm send-keys -N 100 j
    i=$((i + 1))
done
tm send-keys :
wait_for "go to"
tm send-keys Escape
screen_after_scroll=$(tm capture-pane -p)
tm send-keys G
tm send-keys :
wait_for "go to"
tm send-keys Escape
sleep 0.2
screen_at_end=$(tm capture-pane -p)
# A prefix seek, a goto to a hex key, and a search cancelled with Esc.
tm send-keys /
tm send-keys -l 0x0007a1
tm send-keys Enter
tm send-keys :
tm send-keys -l bench/0x0000000100000000
tm send-keys Enter
wait_for "Tab pane"
tm send-keys f
tm send-keys -l zzz
tm send-keys Enter
sleep 0.3
tm send-keys Escape
wait_for "cancelled"
screen_cancelled=$(tm capture-pane -p | grep cancelled)
tm send-keys q
wait_for "READY>"
wait "$sampler" 2>/dev/null || true
tm kill-server
echo "$screen_after_scroll" | sed -n 2,12p
echo ...
echo "$screen_at_end" | sed -n 2,6p
echo "search: $screen_cancelled"
inputs=$(grep -c '^input' "$dir/timings")
echo "inputs handled: $inputs"
echo "slowest input (us): $(grep '^input' "$dir/timings" | cut -d' ' -f2 | sort -n | tail -1)"
echo "p99 input (us):     $(grep '^input' "$dir/timings" | cut -d' ' -f2 | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99)]}')"
echo "slowest frame (us): $(grep '^draw' "$dir/timings" | cut -d' ' -f2 | sort -n | tail -1)"
echo "frames drawn:       $(grep -c '^draw' "$dir/timings")"
echo "peak RSS:           $(grep 'Maximum resident' "$dir/time.txt" | awk '{print $NF}') KiB (file pages included)"
echo "max RssAnon:        $(awk '{print $2}' "$dir/anon.txt" | sort -n | tail -1) KiB"
echo "file size:          $(wc -c < "$db") bytes"
