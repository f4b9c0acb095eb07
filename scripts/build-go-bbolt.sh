#!/bin/sh
# Builds one of our Go programs against Debian's bbolt 1.3.6:
#   scripts/build-go-bbolt.sh SRC_DIR BINARY_NAME
# Installs golang-go, golang-github-coreos-bbolt-dev and golang-golang-x-sys-dev if they are
# missing, then builds SRC_DIR/bin/BINARY_NAME in GOPATH mode with GOPATH=/usr/share/gocode
# (Debian's Go source tree). Does nothing if the binary is newer than every .go file in
# SRC_DIR. The last line of stdout is the binary's path.
set -eu

here=$(cd "$1" && pwd)
name=$2
out="$here/bin/$name"
gopath=/usr/share/gocode
bbolt_src="$gopath/src/go.etcd.io/bbolt"
xsys_src="$gopath/src/golang.org/x/sys/unix"

need_pkgs=
command -v go >/dev/null 2>&1 || need_pkgs="$need_pkgs golang-go"
[ -d "$bbolt_src" ] || need_pkgs="$need_pkgs golang-github-coreos-bbolt-dev"
[ -d "$xsys_src" ] || need_pkgs="$need_pkgs golang-golang-x-sys-dev"

if [ -n "$need_pkgs" ]; then
    echo "installing:$need_pkgs" >&2
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    if ! { $sudo apt-get install -y $need_pkgs >&2 ||
           { $sudo apt-get update >&2 && $sudo apt-get install -y $need_pkgs >&2; }; }; then
        echo "" >&2
        echo "############################################################" >&2
        echo "ERROR: apt-get install failed for:$need_pkgs" >&2
        echo "$name cannot be built without Go and bbolt 1.3.6." >&2
        echo "############################################################" >&2
        exit 1
    fi
fi

# Up to date? Rebuild when any Go source is newer than the binary.
if [ -x "$out" ] && [ -z "$(find "$here" -maxdepth 1 -name '*.go' -newer "$out")" ]; then
    echo "$out"
    exit 0
fi

mkdir -p "$here/bin"
# GOPATH mode: the package lives outside GOPATH, which Go allows for a plain directory build
# as long as its imports (go.etcd.io/bbolt, golang.org/x/sys) resolve from GOPATH. GOFLAGS is
# cleared so a caller's -mod=... cannot interfere.
cd "$here"
GO111MODULE=off GOPATH="$gopath" GOFLAGS= go build -o "$out" . >&2
echo "$out"
