#!/usr/bin/env bash
# The README's test command: installs DynamoDB Local, Chromium and
# playwright-core if missing, starts DynamoDB Local on a free loopback port,
# runs every test (both stores, end-to-end through the local gateway; the JS
# client under Node's test runner; the demo in headless Chromium), and stops
# what it started. Extra arguments go to `cargo test` (and skip the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dynamodb-local.sh
source scripts/browser.sh
if [ "$#" -eq 0 ]; then install_browser_tools; fi
start_dynamodb_local
trap stop_dynamodb_local EXIT
# Fixed dummy credentials (DynamoDB Local wants letters and digits only; it
# scopes tables by key + region).
export AWS_ACCESS_KEY_ID=wsfntest AWS_SECRET_ACCESS_KEY=wsfntest AWS_REGION=us-east-1
# The Lambda binaries, for the tests that run them through the Runtime API
# (wsfn-local --invoker runtime-api), and the example hook Lambda wsfn-local
# runs as the application's function; the same build `cargo test` reuses.
cargo build --quiet -p connect -p disconnect -p message -p publish -p fanout -p app-hooks
cargo test --workspace "$@"
# The end-to-end tests on DynamoDB Local again, with every function run as
# its real binary through the Lambda Runtime API (wsfn-local --invoker
# runtime-api). Skipped when arguments select tests.
if [ "$#" -eq 0 ]; then
  echo "--- end-to-end tests through the Runtime API (the real binaries)"
  # --workspace: the same feature set as the run above, so nothing rebuilds.
  WSFN_TEST_INVOKER=runtime-api cargo test --workspace dynamodb_local
  echo "--- the JS client's unit tests (node --test)"
  node --test clients/js/test/*.test.js
  echo "--- the Node hook example's unit tests (its run through wsfn-local is a cargo test)"
  node --test examples/hooks-node/test/*.test.js
  echo "--- the JS client and the demo in headless Chromium (tests/browser)"
  # Each test starts its own wsfn-local (target/debug) and browser, and stops them.
  # Node < 22 has WebSocket behind a flag (the client's Node test needs it).
  ws_flag=$(node -e 'process.stdout.write(+process.versions.node.split(".")[0] < 22 ? "--experimental-websocket" : "")')
  (cd tests/browser && node $ws_flag --test --test-concurrency=1 ./*.test.js)
fi
