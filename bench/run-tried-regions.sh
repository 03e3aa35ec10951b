#!/bin/sh
# A 1,000-region tried_regions snapshot, same tree, same run:
#  1. in process: DamonSysfsReader.ReadTriedRegions (BenchmarkDotNet, in-process, 3 warm-ups +
#     10 iterations) against the C floor bench/c/read_tried_regions.c (readdir, sort,
#     open/read/close + strtoull per file), ns per tree read and the ratio C#/C;
#  2. per snapshot as a command, PROCESS_RUNS runs each, alternating: the C floor as a process
#     (1 read), `damon-otel snapshot --no-refresh` (the NativeAOT publish of
#     scripts/publish-agent.sh), and Debian's damo (trixie 2.8.3 and sid 3.4.1, `dpkg -x` from a
#     private apt list; `damo report access`) inside bench/damo-sandbox.sh's private mount
#     namespace over the same fake tree: wall and CPU (user+sys) per snapshot and the ratios;
#     plus `damon-otel --version` (the binary's start-up alone, no DAMON file read).
# The tree: bench/fixtures/make-tree.py PREFIX 1 1000 on /dev/shm (one running kdamond whose
# stat scheme has 1,000 tried regions named 1,3,5,... like 6.14+ kernels).
# Usage: bench/run-tried-regions.sh   (from anywhere; minutes, mostly the Release builds)
#   PROCESS_RUNS=10  SKIP_BDN=1 (only part 2)  SKIP_DAMO=1  AGENT_AOT=<binary> (skip the publish)
#   AGENT_BASELINE=<binary> (another build's snapshot in the same alternation, row "baseline")
#   BENCH_CACHE=<dir> (damo downloads; default tests/vm/.cache, as the VM test's)
set -eu
cd "$(dirname "$0")/.."
REPO=$(pwd)
ROOT=/dev/shm/damonotel-tried-regions-$$
TREE=$ROOT/sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/0/tried_regions
RUNS=${PROCESS_RUNS:-10}
CACHE=${BENCH_CACHE:-${DAMON_OTEL_VM_CACHE:-$REPO/tests/vm/.cache}}
trap 'rm -rf "$ROOT" "$ROOT-times" bench/c/read_tried_regions' EXIT

python3 bench/fixtures/make-tree.py "$ROOT" 1 1000
gcc -O2 -Wall -o bench/c/read_tried_regions bench/c/read_tried_regions.c
C_NS=$(bench/c/read_tried_regions "$TREE" 100 | sed -n 's/^ns_per_tree_read=//p')
echo "C:  $C_NS ns per tree read (in process, warm)"

if [ "${SKIP_BDN:-0}" != 1 ]; then
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
  echo "C#: $CS_NS ns per tree read (in process, warm)"
  python3 -c "print('ratio C#/C = %.2f' % ($CS_NS / $C_NS))"
fi

# ---- per snapshot, as a command -------------------------------------------------------------
AGENT=${AGENT_AOT:-}
if [ -z "$AGENT" ]; then
  scripts/publish-agent.sh "$REPO/bench/agent/bin/aot" >"$ROOT/publish.log" 2>&1 || { tail -20 "$ROOT/publish.log"; exit 1; }
  AGENT=$REPO/bench/agent/bin/aot/damon-otel
fi
DAMOS=""
if [ "${SKIP_DAMO:-0}" != 1 ]; then
  # Debian's damo from a private apt configuration (the machine's sources stay untouched).
  apt=$CACHE/apt-damo
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/cache" "$apt/debs"
  printf 'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian sid main\n' >"$apt/sources.list"
  opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache -o Dir::Cache::Archives=$apt/archives -o APT::Sandbox::User=root"
  for v in 2.8.3-1 3.4.1-1; do
    if [ ! -d "$apt/damo-$v/usr/bin" ]; then
      ls "$apt"/lists/*_Packages >/dev/null 2>&1 || apt-get $opts update >"$ROOT/apt.log" 2>&1 || { tail "$ROOT/apt.log"; exit 1; }
      (cd "$apt/debs" && apt-get $opts download "damo=$v" >"$ROOT/apt.log" 2>&1) || { tail "$ROOT/apt.log"; exit 1; }
      dpkg -x "$apt/debs/damo_${v}_all.deb" "$apt/damo-$v"
    fi
    DAMOS="$DAMOS $apt/damo-$v"
  done
fi

mkdir -p "$ROOT/state" "$ROOT-times"
timed() { # $1 = label; rest = command. Appends "label wall user sys maxrss" to the times file.
  label=$1; shift
  python3 bench/fixtures/timed.py "$ROOT-times/all" "$label" "$ROOT/out.$label" -- "$@" || { cat "$ROOT/out.$label"; exit 1; }
}
i=0
while [ $i -lt "$RUNS" ]; do
  timed c bench/c/read_tried_regions "$TREE" 1 0
  timed ours "$AGENT" snapshot --no-refresh --path.sysfs "$ROOT/sys" --path.tracefs "$ROOT/tracing" --path.procfs "$ROOT/proc" --state-dir "$ROOT/state"
  # The command's fixed cost: the same binary starting, parsing and printing, reading nothing.
  timed ours-version "$AGENT" --version
  if [ -n "${AGENT_BASELINE:-}" ]; then
    timed baseline "$AGENT_BASELINE" snapshot --no-refresh --path.sysfs "$ROOT/sys" --path.tracefs "$ROOT/tracing" --path.procfs "$ROOT/proc" --state-dir "$ROOT/state"
  fi
  i=$((i + 1))
done
grep -q '^regions: 1000$' "$ROOT/out.ours" || { echo "our snapshot did not see 1000 regions:"; head "$ROOT/out.ours"; exit 1; }
for d in $DAMOS; do
  v=$(basename "$d"); v=${v#damo-}
  case "$v" in
    2.*) args="report access --tried_regions_of 0 0 0" ;;
    *) args="report access --input tried_regions_of 0 0 0" ;;
  esac
  # shellcheck disable=SC2086
  bench/damo-sandbox.sh "$ROOT" "$d" "$RUNS" -- $args >"$ROOT/damo-$v.log" || { cat "$ROOT/damo-$v.log"; exit 1; }
  [ "$(sed -n 's/^damo_region_lines=//p' "$ROOT/damo-$v.log")" -ge 1000 ] || { echo "damo $v did not list 1000 regions:"; cat "$ROOT/damo-$v.log"; exit 1; }
  sed -n "s/^damo_run /damo-$v /p" "$ROOT/damo-$v.log" >>"$ROOT-times/all"
done
echo
echo "Per snapshot as a command ($RUNS runs each; load average $(cut -d' ' -f1-3 /proc/loadavg)):"
python3 - "$ROOT-times/all" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 5 and p[1][0].isdigit():
        rows.setdefault(p[0], []).append((float(p[1]), float(p[2]) + float(p[3]), int(p[4])))
base = rows["c"]
cw, cc = statistics.mean(r[0] for r in base), statistics.mean(r[1] for r in base)
print("| command | wall ms (mean) | CPU ms (user+sys, mean) | peak RSS MB | wall / C | CPU / C |")
print("|---|---:|---:|---:|---:|---:|")
for k, v in rows.items():
    w, c = statistics.mean(r[0] for r in v), statistics.mean(r[1] for r in v)
    print(f"| {k} | {w * 1000:.0f} | {c * 1000:.0f} | {max(r[2] for r in v) / 1024:.1f} | {w / cw:.2f} | {(c / cc if cc else float('nan')):.2f} |")
PY
