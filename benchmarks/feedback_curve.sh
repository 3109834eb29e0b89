#!/usr/bin/env bash
# The curve over users' feedback rate R on the three datasets (README, "Benchmark": users'
# ratings): seed 0, `online`, agreement judging at R = 0, 0.02, 0.1, 0.25 and P = 0.1 at
# R = 0.1, and the oracle judge (reference: gold at serve time) as the bound. One run at a time;
# about 5 minutes a run on 2 cores once the embeddings are cached in OUT/cache (the first
# LLMRouter run embeds 5,075 questions: ~15 minutes more). Then the tables and the plot.
# Usage: bash benchmarks/feedback_curve.sh [OUT] (default bench-out/feedback-curve); LIMIT=N
# runs every point on the first N items only (a quick look, not the figures).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-out/feedback-curve}
BIN=.venv/bin
FEW=(${LIMIT:+--limit "$LIMIT"})
G=(--dataset gsm8k --sweep 0,0.1,0.3,0.6,1 "${FEW[@]}")
M=(--dataset mmlu --sweep 0,0.1,0.3,0.6,1 --limit "${LIMIT:-1319}")
L=(--dataset llmrouter --config examples/llmrouter.toml --sweep 0.5 "${FEW[@]}")
reports=()
for name in gsm8k mmlu llmrouter; do
  case $name in gsm8k) args=("${G[@]}") ;; mmlu) args=("${M[@]}") ;; *) args=("${L[@]}") ;; esac
  for point in "0 0" "0.02 0" "0.1 0" "0.25 0" "0.1 0.1" "oracle"; do
    set -- $point
    if [ "$1" = oracle ]; then extra=(--judge reference); tag=oracle
    else extra=(--feedback-rate "$1" --feedback-noise "$2"); tag="r$1-p$2"; fi
    report="$OUT/$name-$tag.json"
    $BIN/tutelage bench "${args[@]}" --protocol online "${extra[@]}" --out-dir "$OUT" \
      --report "$report"
    reports+=("$report")
  done
done
$BIN/python -m tutelage.bench.feedback_curve "${reports[@]}" --plot "$OUT/feedback-curve.png"
