#!/usr/bin/env bash
# The soak (docs/performance.md, "Soak"): release builds, DynamoDB Local (installed and
# started here), then `wsfn-bench soak`: wsfn-local as a process of its own
# with every function as its real binary, 30 minutes of churn and traffic
# by default. Extra arguments go to `wsfn-bench soak` (e.g. --minutes 60).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dynamodb-local.sh
start_dynamodb_local
trap stop_dynamodb_local EXIT
export AWS_ACCESS_KEY_ID=wsfnsoak AWS_SECRET_ACCESS_KEY=wsfnsoak AWS_REGION=us-east-1
cargo build --release -q -p wsfn-bench -p wsfn-local -p connect -p disconnect -p message -p publish -p fanout
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
./target/release/wsfn-bench soak --dynamodb-endpoint "$WSFN_TEST_DYNAMODB_ENDPOINT" --wsfn-local target/release/wsfn-local "$@"
