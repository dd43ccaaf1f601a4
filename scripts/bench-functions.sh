#!/usr/bin/env bash
# The functions as Lambda runs them: release binaries through wsfn-local's
# Runtime API against DynamoDB Local (installed and started here). Prints
# init, warm duration and peak RSS per function, and for one 10,000-push
# fan-out the CPU per push and the wall time projected per MemorySize.
# Extra arguments go to `wsfn-bench functions`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dynamodb-local.sh
start_dynamodb_local
trap stop_dynamodb_local EXIT
export AWS_ACCESS_KEY_ID=wsfnbench AWS_SECRET_ACCESS_KEY=wsfnbench AWS_REGION=us-east-1
cargo build --release -q -p wsfn-bench -p connect -p disconnect -p message -p publish -p fanout
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
./target/release/wsfn-bench functions --dynamodb-endpoint "$WSFN_TEST_DYNAMODB_ENDPOINT" "$@"
