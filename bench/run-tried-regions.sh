#!/bin/sh
# Reads the same 1,000-region tried_regions tree on tmpfs with the C baseline and with
# DamonSysfsReader.ReadTriedRegions (BenchmarkDotNet, in-process, 3 warmups + 10 iterations), then prints C# / C.
# Usage: bench/run-tried-regions.sh   (from anywhere; a few minutes, mostly the Release build)
set -eu
cd "$(dirname "$0")/.."
ROOT=/dev/shm/damonotel-tried-regions-$$
TREE=$ROOT/sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/0/tried_regions
trap 'rm -rf "$ROOT" bench/c/read_tried_regions' EXIT

# Same layout as TriedRegionsTree.Create: regions 1,3,5,...,1999 of 4 MiB from 4 GiB.
python3 - "$TREE" <<'PY'
import os, sys
d = sys.argv[1]
os.makedirs(d)
size, start = 4 << 20, 4294967296
for i in range(1000):
    r = os.path.join(d, str(2 * i + 1)); os.mkdir(r)
    s = start + i * size
    for name, v in (("start", s), ("end", s + size), ("nr_accesses", i % 21), ("age", i % 97)):
        with open(os.path.join(r, name), "w") as f: f.write(f"{v}\n")
with open(os.path.join(d, "total_bytes"), "w") as f: f.write(f"{1000 * size}\n")
PY

gcc -O2 -Wall -o bench/c/read_tried_regions bench/c/read_tried_regions.c
C_NS=$(bench/c/read_tried_regions "$TREE" 100 | sed -n 's/^ns_per_tree_read=//p')
echo "C:  $C_NS ns per tree read"

dotnet build -c Release bench/DamonOtel.Benchmarks/DamonOtel.Benchmarks.csproj >"$ROOT/build.log" 2>&1 \
  || { tail -40 "$ROOT/build.log"; exit 1; }
# In-process toolchain: no generated project to rebuild; the same files the C program read.
DAMONOTEL_TRIED_TREE=$ROOT dotnet bench/DamonOtel.Benchmarks/bin/Release/net10.0/DamonOtel.Benchmarks.dll \
  --filter '*TriedRegionsBenchmarks*' --inProcess --warmupCount 3 --iterationCount 10 \
  --exporters json --artifacts "$ROOT/artifacts" >"$ROOT/bdn.log" 2>&1 \
  || { tail -40 "$ROOT/bdn.log"; exit 1; }
grep -E '^\| *(Method|ReadTriedRegions)' "$ROOT/bdn.log"
CS_NS=$(python3 -c "
import glob, json
f = glob.glob('$ROOT/artifacts/results/*TriedRegions*report-full*.json')[0]
b = json.load(open(f))['Benchmarks'][0]
print(round(b['Statistics']['Mean']))
")
echo "C#: $CS_NS ns per tree read"
python3 -c "print('ratio C#/C = %.2f' % ($CS_NS / $C_NS))"
