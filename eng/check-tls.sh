#!/usr/bin/env bash
# Usage: eng/check-tls.sh [SOCKEYE-COMMAND...]   (default: dotnet src/Sockeye.Cli/bin/Debug/net10.0/sockeye.dll)
# Issue 16: `sockeye serve --tls-cert` must offer no CBC suite, no TLS 1.0 and no TLS 1.1 by default. Starts serve
# with an RSA and then an ECDSA certificate (which suites a server can pick depends on its key) and asks it with
# openssl s_client for every TLS 1.2 suite OpenSSL knows that is not AEAD (CBC, RC4, 3DES, NULL), one at a time, and
# for TLS 1.0 and 1.1. Each must fail. Two controls must succeed, so a server that refuses everything cannot pass:
# TLS 1.2 with ECDHE and AES-GCM, and TLS 1.3. OpenSSL 3 refuses old protocols and weak suites client-side at its
# default security level, so every probe says @SECLEVEL=0: the server, not the client, must do the refusing.
# About 10 s on 2 cores (CI runs it after the tests, whose build it uses).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || set -- dotnet src/Sockeye.Cli/bin/Debug/net10.0/sockeye.dll
command -v openssl >/dev/null || { echo "check-tls: openssl is missing (eng/install-test-deps.sh installs it)" >&2; exit 1; }

name=check-tls
source eng/serve-lib.sh

# TLS 1.2 suites that are not AEAD: everything but AES-GCM, ChaCha20-Poly1305, AES-CCM and ARIA-GCM.
mapfile -t weak < <(openssl ciphers -v 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' \
  | awk '($2 == "TLSv1.2" || $2 == "SSLv3") && $5 !~ /^Enc=(AESGCM|CHACHA20\/POLY1305|AESCCM|AESCCM8|ARIAGCM)/ { print $1 }')
[ ${#weak[@]} -gt 20 ] || { echo "check-tls: openssl lists only ${#weak[@]} non-AEAD suites; expected dozens" >&2; exit 1; }

failures=0
probe() { # probe EXPECT(ok|refused) LABEL s_client-arguments...
  local expect=$1 label=$2; shift 2
  local result=refused
  if timeout 10s openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" </dev/null >"$work/probe" 2>&1 \
    && grep -Eq '^New, TLSv1(\.[0-3])?, Cipher is [A-Z0-9]' "$work/probe"; then
    result=ok
  fi
  if [ "$result" != "$expect" ]; then
    echo "check-tls: $key: $label: $result, expected $expect" >&2
    failures=$((failures + 1))
  fi
}

for key in rsa ec; do
  if [ "$key" = rsa ]; then keyopt=(-newkey rsa:2048); else keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
  openssl req -x509 "${keyopt[@]}" -nodes -days 2 -subj /CN=localhost -keyout "$work/$key.key" -out "$work/$key.crt" 2>/dev/null
  start_serve "$@" serve --port 0 --handler echo --host 127.0.0.1 --tls-cert "$work/$key.crt" --tls-key "$work/$key.key"

  if [ "$key" = rsa ]; then aead=ECDHE-RSA-AES128-GCM-SHA256; else aead=ECDHE-ECDSA-AES128-GCM-SHA256; fi
  probe ok "TLS 1.2 $aead (control)" -tls1_2 -cipher "$aead"
  probe ok "TLS 1.3 (control)" -tls1_3
  probe refused "TLS 1.0" -tls1 -cipher 'DEFAULT@SECLEVEL=0'
  probe refused "TLS 1.1" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
  for suite in "${weak[@]}"; do
    probe refused "TLS 1.2 $suite" -tls1_2 -cipher "$suite@SECLEVEL=0"
  done

  kill -TERM "$server"
  wait "$server" || true
  server=""
done

[ "$failures" -eq 0 ] || { echo "check-tls: $failures probe(s) failed" >&2; exit 1; }
echo "check-tls: no CBC or other non-AEAD TLS 1.2 suite (${#weak[@]} tried), no TLS 1.0 or 1.1, with RSA and ECDSA certificates"
