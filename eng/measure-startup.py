#!/usr/bin/env python3
"""Start-up time and memory of sockeye builds, side by side.

Usage: eng/measure-startup.py [--rounds N] NAME=COMMAND [NAME=COMMAND ...]
  e.g. eng/measure-startup.py jit="dotnet out/jit/sockeye.dll" aot=out/aot/sockeye

For each build, interleaved (A B C A B C ...) for N rounds, it measures:
  - `--version`: from exec to exit;
  - `serve --port 0`: from exec to the "Listening on" line, and the resident memory at that moment;
and prints the median and the spread (min-max) of each.
"""
import os, shlex, statistics, subprocess, sys, time

def run_version(command):
    start = time.perf_counter()
    subprocess.run(command + ["--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
    return time.perf_counter() - start

def run_serve(command):
    start = time.perf_counter()
    process = subprocess.Popen(command + ["serve", "--port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = start + 60
        for line in process.stderr:
            if line.startswith("Listening on"):
                elapsed = time.perf_counter() - start
                with open(f"/proc/{process.pid}/status") as status:
                    rss = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
                return elapsed, rss
            if time.perf_counter() > deadline:
                break
        raise RuntimeError(f"{command} did not listen")
    finally:
        process.kill()
        process.wait()

def main(argv):
    rounds = 15
    if argv[:1] == ["--rounds"]:
        rounds, argv = int(argv[1]), argv[2:]
    builds = [(name, shlex.split(command)) for name, command in (a.split("=", 1) for a in argv)]
    results = {name: {"version": [], "serve": [], "rss": []} for name, _ in builds}
    for name, command in builds:  # warm the file cache once, unmeasured
        run_version(command)
    for _ in range(rounds):
        for name, command in builds:
            results[name]["version"].append(run_version(command))
            elapsed, rss = run_serve(command)
            results[name]["serve"].append(elapsed)
            results[name]["rss"].append(rss)
    print(f"{rounds} interleaved rounds; median (min-max)")
    print(f"{'build':<10} {'--version (ms)':<22} {'serve to listening (ms)':<26} {'RSS listening (MiB)':<20}")
    for name, _ in builds:
        r = results[name]
        ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ({min(xs) * 1000:.0f}-{max(xs) * 1000:.0f})"
        mib = lambda xs: f"{statistics.median(xs) / 1024:.1f} ({min(xs) / 1024:.1f}-{max(xs) / 1024:.1f})"
        print(f"{name:<10} {ms(r['version']):<22} {ms(r['serve']):<26} {mib(r['rss']):<20}")

if __name__ == "__main__":
    main(sys.argv[1:])
