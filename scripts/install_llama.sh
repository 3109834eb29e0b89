#!/usr/bin/env bash
# Install llama-cpp-python (local GGUF models) into a venv, built from source with the project's
# CMake flags: usage install_llama.sh VENV VERSION "CMAKE ARGS".
#
# pip's own cache keys a built wheel by the source it came from, not by the flags it was built
# with, so a wheel once built with other flags (e.g. -march=native, which segfaults in decode on
# CPUs with AMX) would come back from it. This script never uses pip's cache for it: it builds
# with --no-cache-dir into a wheelhouse of its own whose folder name is a hash of the version,
# the flags and, for a native build, the CPU it was built on; a later install with the same key
# reuses that wheel, any other key builds anew.
set -euo pipefail
venv=$1
version=$2
cmake_args=${3:-}
pip="$venv/bin/pip"

key_source="llama-cpp-python==$version|$cmake_args"
if [[ "$cmake_args" != *"GGML_NATIVE=OFF"* ]]; then
  # A native build is only good for this kind of CPU.
  key_source="$key_source|$(grep -m1 -E '^(model name|flags)' /proc/cpuinfo 2>/dev/null; grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | md5sum)"
fi
key=$(printf '%s' "$key_source" | sha256sum | cut -c1-16)
wheelhouse="${TUTELAGE_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/tutelage/wheels}/llama-cpp-python-$version-$key"

if [ -n "${LLAMA_PRINT_WHEELHOUSE:-}" ]; then echo "$wheelhouse"; exit 0; fi
wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $version (CMAKE_ARGS: ${cmake_args:-none}); this takes a few minutes"
  mkdir -p "$wheelhouse.partial"
  CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$pip" wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    -w "$wheelhouse.partial" "llama-cpp-python==$version"
  rm -rf "$wheelhouse"
  mv "$wheelhouse.partial" "$wheelhouse"
  wheel=$(ls "$wheelhouse"/llama_cpp_python-"$version"-*.whl | head -n1)
  printf 'llama-cpp-python==%s\nCMAKE_ARGS=%s\n' "$version" "$cmake_args" > "$wheelhouse/BUILD-FLAGS"
else
  echo "llama-cpp-python $version from $wheelhouse (built with CMAKE_ARGS: ${cmake_args:-none})"
fi
# Its own dependencies come with the project's install (the [local] extra pins this version).
"$pip" install --quiet --no-deps --force-reinstall --no-cache-dir "$wheel"
