#!/usr/bin/env bash
# Brings PublicAPI.Unshipped.txt in line with the code: adds what the analyzer reports as undeclared (RS0016)
# and removes what it reports as gone (RS0017). Run it after a deliberate public API change, then review the
# diff of PublicAPI.Unshipped.txt: that diff is the API review.
set -euo pipefail
cd "$(dirname "$0")/../src/Sockeye"
out=$(dotnet build --no-incremental 2>&1 || true)
added=$(grep -oP "error RS0016: Symbol '\K.*?(?=' is not part of the declared public API)" <<<"$out" | sort -u || true)
removed=$(grep -oP "error RS0017: Symbol '\K.*?(?=' is part of the declared API)" <<<"$out" | sort -u || true)
python3 - "$added" "$removed" <<'PY'
import sys
added = [l for l in sys.argv[1].splitlines() if l]
removed = set(l for l in sys.argv[2].splitlines() if l)
path = "PublicAPI.Unshipped.txt"
lines = open(path).read().splitlines()
header, body = lines[0], [l for l in lines[1:] if l and l not in removed]
body = sorted(set(body + added))
open(path, "w").write("\n".join([header] + body) + "\n")
PY
dotnet build 2>&1 | grep -E " error | warning " | sort -u || echo "public API is declared"
