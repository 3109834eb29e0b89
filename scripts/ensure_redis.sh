#!/usr/bin/env bash
# The keys' usage counters are tested against a real Redis server (Debian's redis-server), as
# several gateways share them in production. Installed here where it is missing and apt-get can
# run (as root, or with sudo that asks no password); otherwise those tests skip and say why.
# Never fails the build.
set -u
if command -v redis-server > /dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
  SUDO=(sudo -n)
else
  echo "redis-server is missing and apt-get cannot run here: the Redis tests will skip"
  exit 0
fi
if ! command -v apt-get > /dev/null; then
  echo "redis-server is missing and there is no apt-get: the Redis tests will skip"
  exit 0
fi
echo "installing redis-server with apt-get for the usage counters' tests (once)"
if "${SUDO[@]}" apt-get update -qq > /dev/null 2>&1 &&
   DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq redis-server > /dev/null 2>&1; then
  echo "redis-server installed"
else
  echo "could not install redis-server with apt-get: the Redis tests will skip"
fi
exit 0
