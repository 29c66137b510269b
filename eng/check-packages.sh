#!/usr/bin/env bash
# Packs Sockeye, Sockeye.Hosting and the Sockeye.Cli tool, checks what each package holds, installs the tool
# from the local folder into a temporary tool path (no other package source), and runs it: --version, then a
# serve and send round trip.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for project in src/Sockeye src/Sockeye.Hosting src/Sockeye.Cli; do
  dotnet pack "$project" -c Release -o "$work/packages" --nologo -v:q -clp:ErrorsOnly
done

python3 - "$work/packages" <<'PY'
import glob, os, re, sys, zipfile
folder = sys.argv[1]
expected = {
    "Sockeye": ["README.md", "lib/net10.0/Sockeye.Core.dll", "lib/net10.0/Sockeye.Core.xml"],
    "Sockeye.Hosting": ["README.md", "lib/net10.0/Sockeye.Hosting.dll", "lib/net10.0/Sockeye.Hosting.xml"],
    "Sockeye.Cli": ["README.md", "tools/net10.0/any/sockeye.dll", "tools/net10.0/any/Sockeye.Cli.Bench.dll",
                    "tools/net10.0/any/DotnetToolSettings.xml"],
}
failed = False
for package, files in expected.items():
    found = [p for p in glob.glob(os.path.join(folder, package + ".*.nupkg"))
             if re.fullmatch(re.escape(package) + r"\.\d+\.\d+\.\d+(-[\w.]+)?\.nupkg", os.path.basename(p))]
    if len(found) != 1:
        print(f"check-packages: expected one {package} package, found {found}", file=sys.stderr)
        failed = True
        continue
    with zipfile.ZipFile(found[0]) as z:
        names = set(z.namelist())
        nuspec = z.read(package + ".nuspec").decode()
        missing = [f for f in files if f not in names]
        if missing:
            print(f"check-packages: {os.path.basename(found[0])} lacks {missing}", file=sys.stderr)
            failed = True
        if "<readme>README.md</readme>" not in nuspec:
            print(f"check-packages: {package}'s nuspec names no README", file=sys.stderr)
            failed = True
        if package == "Sockeye.Cli" and 'Command Name="sockeye"' not in z.read("tools/net10.0/any/DotnetToolSettings.xml").decode():
            print("check-packages: the tool's command is not sockeye", file=sys.stderr)
            failed = True
        print(f"check-packages: {os.path.basename(found[0])}: {len(names)} files, {os.path.getsize(found[0]) // 1024} KiB")
sys.exit(1 if failed else 0)
PY

# The tool is installed from the packed folder alone, as a user would from a release's files.
cat >"$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/packages" />
  </packageSources>
</configuration>
XML
dotnet tool install Sockeye.Cli --tool-path "$work/tools" --configfile "$work/nuget.config" >/dev/null

version=$("$work/tools/sockeye" --version)
expected_version=$(dotnet msbuild src/Sockeye.Cli -getProperty:Version)
case "$version" in
  "$expected_version"*) echo "check-packages: installed sockeye --version: $version" ;;
  *) echo "check-packages: sockeye --version printed '$version', expected $expected_version" >&2; exit 1 ;;
esac

./eng/roundtrip.sh "$work/tools/sockeye"
