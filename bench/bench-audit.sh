#!/bin/sh
# Audit log: durable appends vs the fsync limit, proof times, full verification vs sha256sum.
set -eu
: "${BENCH_DIR:?}"
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$BENCH_DIR/audit"
"$root/build/bench_audit" "$BENCH_DIR/audit" "${BENCH_AUDIT_EVENTS:-1000000}"
