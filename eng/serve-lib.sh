# Sourced by the eng scripts that run `sockeye serve` on a free port (roundtrip.sh, check-tls.sh). Set `name` first,
# for messages. Gives a scratch folder ($work), the server killed and the folder removed on exit, and start_serve.
work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_serve COMMAND...: runs it in the background, output in $work/out and $work/err, and waits at most 30 s for
# the port it reports listening on (127.0.0.1); sets server and port.
start_serve() {
  "$@" >"$work/out" 2>"$work/err" &
  server=$!
  port=""
  for _ in $(seq 300); do
    port=$(grep -oP '^Listening on 127\.0\.0\.1:\K\d+' "$work/err" || true)
    [ -n "$port" ] && return 0
    kill -0 "$server" 2>/dev/null || { echo "$name: serve exited early:" >&2; cat "$work/err" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name: serve did not listen within 30 s" >&2
  cat "$work/err" >&2
  exit 1
}
