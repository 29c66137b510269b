#!/usr/bin/env bash
# Installs the Debian packages the tests and CI use: real third-party clients (socat, OpenBSD netcat, openssl
# s_client), HAProxy, which the integration tests put in front of sockeye, and a C toolchain for the Native AOT
# publish in CI (gcc; clang works too), and AFL++, which fuzz/run drives (issue 17), and redis-cli (redis-tools), which drives samples/Resp.
# Idempotent; does nothing when everything is already there. Needs root (or sudo) only to install.
set -euo pipefail

packages=(socat netcat-openbsd openssl haproxy gcc afl++ redis-tools)
commands=(socat nc openssl haproxy gcc afl-fuzz redis-cli)

missing=()
for i in "${!commands[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-test-deps: need root to install: ${missing[*]} (tests that use them will be skipped)" >&2
    exit 0
  fi
fi

echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  $sudo apt-get update >/dev/null
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}
