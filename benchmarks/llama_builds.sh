#!/usr/bin/env bash
# Which build of llama-cpp-python to install: each candidate set of CMake flags is built
# (scripts/install_llama.sh: a wheelhouse keyed by version and flags) and measured with
# benchmarks/local_model.py in its own process, so a build that crashes is reported as such.
# The Makefile's build is installed again at the end.
#   bash benchmarks/llama_builds.sh [local_model.py args, e.g. --runs 5]
#   LLAMA_BUILDS="native-no-amx portable" bash benchmarks/llama_builds.sh   (only these)
# Needs .venv with the bench, test and local extras (make bench or make test made it).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
VERSION=$(make -s -f Makefile print-llama-version)
DEFAULT_FLAGS=$(make -s -f Makefile print-llama-flags)
NO_AMX='-mno-amx-tile\ -mno-amx-int8\ -mno-amx-bf16'
names=(native native-no-amx portable runtime-variants)
flags=(
  ""                                                                  # llama.cpp's default: -march=native
  "-DGGML_NATIVE=ON -DCMAKE_C_FLAGS=$NO_AMX -DCMAKE_CXX_FLAGS=$NO_AMX" # -march=native less AMX
  "-DGGML_NATIVE=OFF"                                                 # AVX2/FMA/F16C, any x86-64-v3
  "-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON" # every CPU variant, picked at run time
)
for i in "${!names[@]}"; do
  if [ -n "${LLAMA_BUILDS:-}" ] && [[ " $LLAMA_BUILDS " != *" ${names[$i]} "* ]]; then continue; fi
  echo "=== build ${names[$i]}: CMAKE_ARGS=${flags[$i]:-(none)}"
  if ! bash scripts/install_llama.sh "$VENV" "$VERSION" "${flags[$i]}"; then
    echo "--- ${names[$i]}: the build failed"; continue
  fi
  $VENV/bin/python benchmarks/local_model.py "$@"
  status=$?
  if [ $status -ne 0 ]; then
    sig=$((status > 128 ? status - 128 : 0))
    echo "--- ${names[$i]}: exit status $status$([ $sig -gt 0 ] && echo " (signal $(kill -l $sig))")"
  fi
done
echo "=== reinstalling the Makefile's build: CMAKE_ARGS=$DEFAULT_FLAGS"
bash scripts/install_llama.sh "$VENV" "$VERSION" "$DEFAULT_FLAGS"
