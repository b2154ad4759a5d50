#!/usr/bin/env bash
# Local services for the integration tests: moto in server mode (S3, SNS) on 127.0.0.1.
#
#   scripts/test-services.sh install   # venv at .venv (or $TRAILGUARD_VENV) with moto[server]
#   scripts/test-services.sh start     # installs if needed, starts moto, writes the endpoint
#   scripts/test-services.sh env       # prints `export TRAILGUARD_MOTO_ENDPOINT=...`
#   scripts/test-services.sh status
#   scripts/test-services.sh stop            # stops moto and the Bedrock stand-in
#   scripts/test-services.sh start-bedrock [ANSWER]
#       builds and starts the local Bedrock Runtime stand-in (crates/trailguard-testkit) answering
#       ANSWER (default: a low-threat analysis); endpoint in .cache/test-services/bedrock-endpoint.
#       Rust tests start their own stand-in in-process; this is for the CLI and benchmarks.
#
# The endpoint goes to .cache/test-services/moto-endpoint, which the tests read when
# TRAILGUARD_MOTO_ENDPOINT is unset. Under CI=true the moto tests fail if neither is there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRAILGUARD_VENV:-$ROOT/.venv}"
STATE="$ROOT/.cache/test-services"
MOTO_VERSION="5.2.5"
PYTHON="${PYTHON:-python3}"

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c "import moto, flask" 2>/dev/null \
     || [ "$("$VENV/bin/python" -c 'import moto; print(moto.__version__)')" != "$MOTO_VERSION" ]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
}

running_pid() {
  local pid
  [ -f "$STATE/moto.pid" ] || return 1
  pid="$(cat "$STATE/moto.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  install
  mkdir -p "$STATE"
  if pid="$(running_pid)"; then
    echo "moto already running (pid $pid) at $(cat "$STATE/moto-endpoint")" >&2
    print_env
    return 0
  fi
  local port="${TRAILGUARD_MOTO_PORT:-$(free_port)}"
  local endpoint="http://127.0.0.1:$port"
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STATE/moto.log" 2>&1 &
  echo $! >"$STATE/moto.pid"
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/moto-api/data.json', timeout=1)" "$endpoint" 2>/dev/null; then
      echo "$endpoint" >"$STATE/moto-endpoint"
      echo "moto $MOTO_VERSION listening at $endpoint (pid $(cat "$STATE/moto.pid"), log $STATE/moto.log)" >&2
      print_env
      return 0
    fi
    if ! running_pid >/dev/null; then
      echo "moto_server exited during start-up; log:" >&2
      cat "$STATE/moto.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "moto_server did not answer on $endpoint within 20 s; log:" >&2
  cat "$STATE/moto.log" >&2
  exit 1
}

print_env() {
  [ -f "$STATE/moto-endpoint" ] && echo "export TRAILGUARD_MOTO_ENDPOINT=$(cat "$STATE/moto-endpoint")"
}

start_bedrock() {
  mkdir -p "$STATE"
  local answer="${1:-{\"threat_level\":\"low\",\"event_title\":\"Routine activity\",\"summarize\":\"No threat.\"\}}"
  local target="${CARGO_TARGET_DIR:-$ROOT/target}"
  (cd "$ROOT" && cargo build --quiet -p trailguard-testkit --bin bedrock-standin)
  rm -f "$STATE/bedrock-endpoint"
  nohup "$target/debug/bedrock-standin" --default-answer "$answer" \
    --endpoint-file "$STATE/bedrock-endpoint" >"$STATE/bedrock.log" 2>&1 &
  echo $! >"$STATE/bedrock.pid"
  for _ in $(seq 1 50); do
    if [ -s "$STATE/bedrock-endpoint" ]; then
      echo "export TRAILGUARD_BEDROCK_ENDPOINT=$(cat "$STATE/bedrock-endpoint")"
      return 0
    fi
    sleep 0.1
  done
  echo "bedrock-standin did not start; log:" >&2
  cat "$STATE/bedrock.log" >&2
  exit 1
}

stop() {
  if [ -f "$STATE/bedrock.pid" ] && kill -0 "$(cat "$STATE/bedrock.pid")" 2>/dev/null; then
    kill "$(cat "$STATE/bedrock.pid")"
    echo "bedrock-standin stopped" >&2
  fi
  rm -f "$STATE/bedrock.pid" "$STATE/bedrock-endpoint"
  if pid="$(running_pid)"; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "moto stopped (pid $pid)" >&2
  fi
  rm -f "$STATE/moto.pid" "$STATE/moto-endpoint"
}

status() {
  if pid="$(running_pid)"; then
    echo "moto running (pid $pid) at $(cat "$STATE/moto-endpoint")"
  else
    echo "moto not running"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  start-bedrock) shift; start_bedrock "$@" ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 install|start|start-bedrock [ANSWER]|stop|status|env" >&2; exit 2 ;;
esac
