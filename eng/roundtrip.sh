#!/usr/bin/env bash
# Usage: eng/roundtrip.sh SOCKEYE-COMMAND...
# Runs `serve` with the given sockeye (an installed tool, a native binary, `dotnet sockeye.dll`) on a free port,
# does the companion exchange with its `send`, then stops the server with SIGTERM and expects exit code 0.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 SOCKEYE-COMMAND..." >&2; exit 2; }

name=roundtrip
source "$(dirname "$0")/serve-lib.sh"

start_serve "$@" serve --port 0 --handler eof-echo

reply=$(timeout 30s "$@" send --port "$port" 2>/dev/null)
expected="Response received : This is a test<EOF>"
[ "$reply" = "$expected" ] || { echo "roundtrip: send printed '$reply', not '$expected'" >&2; exit 1; }

kill -TERM "$server"
status=0
timeout 30s tail --pid="$server" -f /dev/null || { echo "roundtrip: serve did not stop within 30 s of SIGTERM" >&2; exit 1; }
wait "$server" || status=$?
server=""
[ "$status" -eq 0 ] || { echo "roundtrip: serve exited with $status after SIGTERM" >&2; cat "$work/err" >&2; exit 1; }
grep -qx 'Read 19 bytes from socket.' "$work/out" || { echo "roundtrip: serve did not report the message" >&2; cat "$work/out" >&2; exit 1; }
echo "roundtrip: $* served and sent on port $port, then stopped cleanly"
