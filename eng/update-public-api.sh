#!/usr/bin/env bash
# Adds every public symbol the analyzer reports as undeclared (RS0016) to PublicAPI.Unshipped.txt.
# Run it after a deliberate public API change, then review the diff: that diff is the API review.
set -euo pipefail
cd "$(dirname "$0")/../src/Sockeye"
out=$(dotnet build --no-incremental 2>&1 || true)
grep -oP "error RS0016: Symbol '\K.*?(?=' is not part of the declared public API)" <<<"$out" | sort -u >> PublicAPI.Unshipped.txt || true
{ head -n1 PublicAPI.Unshipped.txt; tail -n +2 PublicAPI.Unshipped.txt | sort -u; } > PublicAPI.Unshipped.tmp && mv PublicAPI.Unshipped.tmp PublicAPI.Unshipped.txt
dotnet build 2>&1 | grep -E "error|warning" | sort -u || echo "public API is declared"
