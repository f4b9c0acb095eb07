#!/bin/sh
# Build the Go bbolt benchmark driver (bbolt-bench) against Debian's bbolt 1.3.6, installing Go
# and bbolt from Debian if missing. The last line of stdout is the binary's path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../../scripts/build-go-bbolt.sh" "$here" bbolt-bench
