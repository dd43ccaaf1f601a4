#!/usr/bin/env bash
# The benchmark command: release build of wsfn-bench, run against the
# embedded store and against DynamoDB Local (installed and started here).
# Extra arguments go to both runs, e.g. --subscribers 10,100 --push-latency-ms 20.
set -euo pipefail
cd "$(dirname "$0")/.."
# 10,000 subscribers need 20,000+ sockets in one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
source scripts/dynamodb-local.sh
start_dynamodb_local
trap stop_dynamodb_local EXIT
export AWS_ACCESS_KEY_ID=wsfnbench AWS_SECRET_ACCESS_KEY=wsfnbench AWS_REGION=us-east-1
# app-hooks: the example hook Lambda the hook benchmark runs (next to wsfn-bench).
cargo build --release -q -p wsfn-bench -p app-hooks
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
./target/release/wsfn-bench "$@"
./target/release/wsfn-bench --dynamodb-endpoint "$WSFN_TEST_DYNAMODB_ENDPOINT" "$@"
