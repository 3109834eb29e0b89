#!/usr/bin/env bash
# make demo: the embedded default end to end. Starts the local stack when none is running,
# streams a few hundred GSM8K questions through real QueryWorkflows, prints where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
ITEMS=${DEMO_ITEMS:-300}
# DEMO_CONFIG=examples/demo_local.toml (make demo-local) adds the bundled local GGUF student.
CONFIG_ARGS=()
if [ -n "${DEMO_CONFIG:-}" ]; then CONFIG_ARGS=(--config "$DEMO_CONFIG"); fi
mkdir -p .tutelage
if ! $BIN/python -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('127.0.0.1',7233)))"; then
  echo "starting the local stack (tutelage up) in the background; log: .tutelage/up.log"
  nohup $BIN/tutelage up > .tutelage/up.log 2>&1 &
  for _ in $(seq 1 120); do
    grep -q "Press Ctrl-C" .tutelage/up.log 2>/dev/null && break
    if grep -qi "error" .tutelage/up.log 2>/dev/null; then cat .tutelage/up.log; exit 1; fi
    sleep 1
  done
  grep -q "Press Ctrl-C" .tutelage/up.log || { cat .tutelage/up.log; echo "the stack did not start"; exit 1; }
fi
$BIN/tutelage bench "${CONFIG_ARGS[@]}" --dataset gsm8k --engine temporal --limit "$ITEMS" \
  --sweep 0.1,0.3,0.6 --out-dir bench-out/demo
echo
echo "runs in the Temporal UI: http://127.0.0.1:8233/namespaces/default/workflows"
echo "   (filter: TutelageRoute=\"familiar\", or by TutelageWinner / TutelageTenant)"
echo "the stack keeps running for you to explore; stop it with: make down"
