#!/bin/bash
# Regenerate the fixed edge-case databases in tests/data/ with Go bbolt 1.3.6
# (through interop/go/bin/bbolt-interop). See README.md in this directory.
#
# Output is deterministic: the op files are built from fixed patterns, bbolt
# zeroes its page buffers, and gzip runs with -n (no name or mtime), so a
# rerun reproduces SHA256SUMS exactly.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
B=$("$repo/interop/go/build.sh" | tail -n 1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# hex STRING -> lower-case hex of its bytes (od is in coreutils; xxd may be
# missing).
hex() { printf %s "$1" | od -An -v -tx1 | tr -d ' \n'; }

# build NAME PAGESIZE OPSFILE: a fresh database from an op file, which must
# pass bbolt's Tx.Check.
build() {
    local name=$1 ps=$2 ops=$3
    rm -f "$work/$name"
    "$B" apply --page-size "$ps" "$ops" "$work/$name"
    "$B" check "$work/$name" >/dev/null || { echo "check failed for $name" >&2; exit 1; }
}

# publish NAME [gz]: copy the database (optionally gzip'ed) and its dump here.
publish() {
    local name=$1 gz=${2:-}
    local base=${name%.db}
    "$B" dump "$work/$name" >"$here/$base.dump"
    rm -f "$here/$name" "$here/$name.gz"
    if [ "$gz" = gz ]; then
        gzip -n -9 <"$work/$name" >"$here/$name.gz"
        chmod 644 "$here/$name.gz"
    else
        cp "$work/$name" "$here/$name"
        chmod 644 "$here/$name"
    fi
}

# u16/u64 at a byte offset of a file (little-endian host, like the files).
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
u64() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }

# ---- (a) empty-4k.db: what Open writes for a new file, nothing else.
: >"$work/empty.ops"
build empty-4k.db 4096 "$work/empty.ops"
publish empty-4k.db

# ---- (b) small-1k.db: 1 KiB pages, nested buckets, branch pages, an
# overflow value, empty values, sequences, deletes, a deleted bucket.
{
    users=$(hex users); cfg=$(hex config); items=$(hex items)
    echo "cb $users/$(hex alice)"
    echo "put $users/$(hex alice) $(hex email) $(hex alice@example.com)"
    echo "put $users/$(hex alice) $(hex age) $(hex 37)"
    echo "put $users/$(hex bob) $(hex email) $(hex bob@example.com)"
    echo "seq $users 5"
    echo "put $cfg $(hex empty)"
    echo "put $cfg $(hex mode) $(hex fast)"
    echo "put $cfg $(hex bin) 00ff10e0"
    echo "commit"
    for i in $(seq 0 199); do
        echo "put $items $(hex "$(printf 'item-%04d' "$i")") $(hex "$(printf 'value-%d-%s' "$i" abcdefgh)")"
    done
    echo "put $items $(hex zz-big) $(printf '%03000d' 0 | od -An -v -tx1 | tr -d ' \n')"
    echo "put $(hex n1)/$(hex n2)/$(hex n3)/$(hex n4)/$(hex n5) $(hex deep) $(hex bottom)"
    echo "seq $(hex n1)/$(hex n2)/$(hex n3) 3"
    echo "commit"
    for i in $(seq 0 4 199); do
        echo "del $items $(hex "$(printf 'item-%04d' "$i")")"
    done
    echo "db $users/$(hex bob)"
    echo "put $users/$(hex alice) $(hex nickname)"
    echo "seq $items 200"
} >"$work/small1k.ops"
build small-1k.db 1024 "$work/small1k.ops"
publish small-1k.db

# ---- (c) small-64k.db: 64 KiB pages. A fresh 64 KiB-page file is already
# 256 KiB and the first commit grows it to 512 KiB, so it is stored gzip'ed.
{
    data=$(hex data)
    for i in $(seq 0 1499); do
        echo "put $data $(hex "$(printf 'key-%05d' "$i")") $(hex "$(printf 'v%05d-%044d' "$i" "$i")")"
    done
    # Just over one page, so it needs an overflow page.
    echo "put $data $(hex zz-overflow) $(printf '%066000d' 7 | od -An -v -tx1 | tr -d ' \n')"
    echo "put $data/$(hex inline) $(hex a) $(hex b)"
    echo "put $data/$(hex inline) $(hex empty)"
    echo "seq $data 9"
    echo "commit"
    for i in $(seq 0 3 1499); do
        echo "del $data $(hex "$(printf 'key-%05d' "$i")")"
    done
} >"$work/small64k.ops"
build small-64k.db 65536 "$work/small64k.ops"
publish small-64k.db gz

# ---- (d) freelist-overflow-1k.db: 1 KiB pages and more than 0xFFFF free
# ids, so the freelist page uses count=0xFFFF plus a leading u64 count.
# 70 values of 1 MiB (zeros, so the file compresses well) take ~72k pages;
# deleting them all frees them. The raw file is ~90 MiB, stored gzip'ed.
# There is deliberately no later commit: each commit rewrites the 560 KiB
# freelist elsewhere and leaves the old copy behind as free pages, and that
# stale copy alone would push the .gz past 300 KiB.
zeros=$(head -c 1048576 /dev/zero | od -An -v -tx1 | tr -d ' \n')
{
    keep=$(hex keep); b1=$(hex bulk1); b2=$(hex bulk2)
    echo "put $keep $(hex a) $(hex 1)"
    echo "put $keep $(hex b)"
    for i in $(seq 0 34); do
        k=$(hex "$(printf 'big-%02d' "$i")")
        printf 'put %s %s %s\n' "$b1" "$k" "$zeros"
        printf 'put %s %s %s\n' "$b2" "$k" "$zeros"
    done
    echo "commit"
    echo "db $b1"
    for i in $(seq 0 34); do
        echo "del $b2 $(hex "$(printf 'big-%02d' "$i")")"
    done
    for i in $(seq 0 99); do
        echo "put $keep $(hex "$(printf 'after-%03d' "$i")") $(hex "$(printf 'x%0100d' "$i")")"
    done
} >"$work/flov.ops"
unset zeros
build freelist-overflow-1k.db 1024 "$work/flov.ops"
# Assert the overflow form really is in the file: newest meta -> freelist page.
f="$work/freelist-overflow-1k.db"
if [ "$(u64 "$f" 64)" -ge "$(u64 "$f" $((1024 + 64)))" ]; then m=0; else m=1024; fi
fl=$(u64 "$f" $((m + 48)))
count=$(u16 "$f" $((fl * 1024 + 10)))
real=$(u64 "$f" $((fl * 1024 + 16)))
if [ "$count" != 65535 ] || [ "$real" -lt 65535 ]; then
    echo "freelist-overflow-1k.db: freelist page $fl has count=$count first=$real; expected overflow form" >&2
    exit 1
fi
echo "freelist-overflow-1k.db: freelist page $fl, count=0xFFFF, $real ids" >&2
publish freelist-overflow-1k.db gz

# ---- (e) corrupt-newest-meta.db: three commits, then the newest meta page's
# checksum is broken, so bbolt opens at the previous txid. The dump is taken
# after corrupting, i.e. it shows the older state.
{
    a=$(hex a); b=$(hex b); c=$(hex c)
    echo "put $a $(hex k1) $(hex v1)"
    echo "put $a $(hex k2) $(hex v2)"
    echo "commit"
    echo "put $a $(hex k3) $(hex v3)"
    echo "put $b/$(hex sub) $(hex x) $(hex y)"
    echo "seq $a 11"
    echo "commit"
    echo "del $a $(hex k1)"
    echo "put $a $(hex k2) $(hex v2-new)"
    echo "put $c $(hex only-in-newest) $(hex z)"
    echo "seq $a 12"
    echo "commit"
} >"$work/corrupt.ops"
build corrupt-newest-meta.db 4096 "$work/corrupt.ops"
"$B" corrupt-meta "$work/corrupt-newest-meta.db" >&2
"$B" check "$work/corrupt-newest-meta.db" >/dev/null
publish corrupt-newest-meta.db

cd "$here"
sha256sum -- *.db *.db.gz *.dump >SHA256SUMS
ls -l -- *.db *.db.gz *.dump >&2
