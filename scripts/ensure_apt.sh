#!/usr/bin/env bash
# Installs a Debian package that some tests use as a real server or program (chromium for the
# dashboard's browser tests, redis-server for the usage counters'), where none of its binaries
# is on PATH and apt-get can run (as root, or with sudo that asks no password); otherwise those
# tests skip and say why. Never fails the build.
#   scripts/ensure_apt.sh PACKAGE "WHAT FOR" BINARY [BINARY...]
set -u
package=$1 what=$2
shift 2
for b in "$@"; do
  if command -v "$b" > /dev/null; then exit 0; fi
done
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
  SUDO=(sudo -n)
else
  echo "$package is missing and apt-get cannot run here: $what will skip"
  exit 0
fi
if ! command -v apt-get > /dev/null; then
  echo "$package is missing and there is no apt-get: $what will skip"
  exit 0
fi
echo "installing $package with apt-get for $what (once)"
if "${SUDO[@]}" apt-get update -qq > /dev/null 2>&1 &&
   DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "$package" > /dev/null 2>&1; then
  echo "$package installed"
else
  echo "could not install $package with apt-get: $what will skip"
fi
exit 0
