#!/usr/bin/env bash
# The dashboard's tests open its pages in a real browser: Debian's chromium, driven by
# Playwright (which uses it as it is: nothing is downloaded). Installed here where it is missing
# and apt-get can run (as root, or with sudo that asks no password); otherwise those tests skip
# and say why. Never fails the build.
set -u
for b in chromium chromium-browser; do
  if command -v "$b" > /dev/null; then exit 0; fi
done
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
  SUDO=(sudo -n)
else
  echo "chromium is missing and apt-get cannot run here: the browser tests will skip"
  exit 0
fi
if ! command -v apt-get > /dev/null; then
  echo "chromium is missing and there is no apt-get: the browser tests will skip"
  exit 0
fi
echo "installing chromium with apt-get for the browser tests (once)"
if "${SUDO[@]}" apt-get update -qq > /dev/null 2>&1 &&
   DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium > /dev/null 2>&1; then
  echo "chromium installed"
else
  echo "could not install chromium with apt-get: the browser tests will skip"
fi
exit 0
