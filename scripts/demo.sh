#!/usr/bin/env bash
# make demo: the embedded default end to end. Starts the local stack when none is running,
# benchmarks the school on a few hundred GSM8K questions (real QueryWorkflows, in schools of
# the benchmark's own), then sends the same questions through the stack's school, so that
# `tutelage ask` and the API afterwards meet a school that has learned. Prints where to look.
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
  nohup $BIN/tutelage up "${CONFIG_ARGS[@]}" > .tutelage/up.log 2>&1 &
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
# The benchmark's schools are thrown away; this one is the school `ask` and the API talk to.
if ! $BIN/tutelage warm "${CONFIG_ARGS[@]}" --dataset gsm8k --limit "$ITEMS"; then
  echo "(the running stack serves another school: stop it with make down, then rerun)"
  exit 0
fi
echo
echo "the school remembers those questions; one recorded question (seen or not), asked of it:"
$BIN/tutelage ask "${CONFIG_ARGS[@]}" --sample || true
echo
echo "runs in the Temporal UI: http://127.0.0.1:8233/namespaces/default/workflows"
echo "   (filter: TutelageRoute=\"familiar\", or by TutelageWinner / TutelageTenant)"
echo "the API: http://127.0.0.1:8000/v1 (OpenAI-compatible); a key: .venv/bin/tutelage keys create --tenant default${DEMO_CONFIG:+ --config $DEMO_CONFIG}"
echo "the stack keeps running for you to explore; stop it with: make down${DEMO_CONFIG:+ CONFIG=$DEMO_CONFIG}"
