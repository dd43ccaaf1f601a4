#!/usr/bin/env bash
# Big channels: one server publish to 100,000 (or more) virtual subscribers,
# sharded across FanoutFunction invocations, embedded store. Extra arguments
# go to `wsfn-bench big`, e.g. --subscribers 100000,1000000
# --management-rps 10000 --shard-size 5000,25000.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ACCESS_KEY_ID=wsfnbench AWS_SECRET_ACCESS_KEY=wsfnbench AWS_REGION=us-east-1
cargo build --release -q -p wsfn-bench
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
./target/release/wsfn-bench big "$@"
