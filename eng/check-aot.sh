#!/usr/bin/env bash
# Publishes the tool with Native AOT (dotnet publish src/Sockeye.Cli -r RID -p:PublishAot=true), checks that the
# result is one native binary, and runs a serve and send round trip with it. Needs a C toolchain (gcc or clang).
set -euo pipefail
cd "$(dirname "$0")/.."

rid=${1:-linux-x64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet publish src/Sockeye.Cli -r "$rid" -p:PublishAot=true -o "$work/aot" --nologo -v:q -clp:ErrorsOnly
files=$(ls -A "$work/aot")
[ "$files" = "sockeye" ] || { echo "check-aot: expected one file, sockeye; the publish folder holds: $files" >&2; exit 1; }
file "$work/aot/sockeye" 2>/dev/null | grep -q ELF || head -c 4 "$work/aot/sockeye" | grep -q ELF \
  || { echo "check-aot: sockeye is not a native executable" >&2; exit 1; }
echo "check-aot: $(stat -c %s "$work/aot/sockeye") bytes, $("$work/aot/sockeye" --version)"

./eng/roundtrip.sh "$work/aot/sockeye"
