#!/usr/bin/env bash
# Load test of /metrics: wrk against the real scrape path (TelemetryPipeline + our Prometheus
# exporter) on synthetic observations, 8 kdamonds x 4 targets x 2 schemes, loopback only.
#   bench/wrk/run.sh                 # both cache modes, 20 s each
#   DURATION=5s bench/wrk/run.sh     # shorter runs
#   CACHE_MODES="0" bench/wrk/run.sh # only the worst case (collect + render on every scrape)
#   CACHE_MODES="1000gz" SEQ_DURATION=0 bench/wrk/run.sh  # cache 1 s, gzip requested (as Prometheus does)
# wrk counts a request slower than 2 s as a timeout and leaves it out of the latency figures.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${DURATION:-20s}"
THREADS="${THREADS:-4}"
CONNECTIONS="${CONNECTIONS:-32}"
CACHE_MODES="${CACHE_MODES:-0 1000 1000gz}"
ALLOC_SCRAPES="${ALLOC_SCRAPES:-2000}"
PROJECT="$ROOT/bench/wrk/MetricsLoadHost/MetricsLoadHost.csproj"
OUT="$ROOT/bench/wrk/bin"

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found; installing it with apt-get" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi

echo "== building MetricsLoadHost (Release)"
dotnet build -c Release -o "$OUT" "$PROJECT" -nologo -v quiet >/dev/null
HOST_DLL="$OUT/DamonOtel.MetricsLoadHost.dll"

echo "== allocations per scrape"
ALLOC_LINE="$(dotnet "$HOST_DLL" --alloc-scrapes "$ALLOC_SCRAPES")"
echo "$ALLOC_LINE"

echo "== profile of one scrape (allocations and CPU time by part)"
PROFILE="$(dotnet "$HOST_DLL" --profile-scrapes "${PROFILE_SCRAPES:-300}")"
echo "$PROFILE"

TCK="$(getconf CLK_TCK)"
# utime+stime (clock ticks) of a process; the comm field may hold spaces, so cut after ')'.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

WORK="$(mktemp -d)"
HOST_PID=""
cleanup() {
  if [ -n "$HOST_PID" ] && kill -0 "$HOST_PID" 2>/dev/null; then kill "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

SUMMARY=()
# run_case CACHE_MS THREADS CONNECTIONS DURATION; CACHE_MS "1000gz" = 1000 with
# Accept-Encoding: gzip on every request, as Prometheus sends it.
run_case() {
  local cache="${1%gz}" threads="$2" conns="$3" duration="$4" tag="$1-$3" hdr=()
  if [ "$1" != "$cache" ]; then hdr=(-H "Accept-Encoding: gzip"); fi
  local ready="$WORK/ready-$tag"
  dotnet "$HOST_DLL" --port 0 --cache-ms "$cache" --ready-file "$ready" >"$WORK/host-$tag.log" 2>&1 &
  HOST_PID=$!
  for _ in $(seq 1 300); do [ -s "$ready" ] && break; kill -0 "$HOST_PID" 2>/dev/null || break; sleep 0.1; done
  if [ ! -s "$ready" ]; then echo "host did not start:" >&2; cat "$WORK/host-$tag.log" >&2; exit 1; fi
  local url; url="$(cat "$ready")"
  case "$url" in http://127.0.0.1:*) ;; *) echo "refusing non-loopback URL $url" >&2; exit 1;; esac
  curl -fsS "$url" -o "$WORK/body-$tag.txt"

  echo "== wrk -t$threads -c$conns -d$duration --latency ${hdr[*]} $url   (scrape cache ${cache} ms)"
  local c0 c1; c0="$(cpu_ticks "$HOST_PID")"
  wrk -t"$threads" -c"$conns" -d"$duration" --latency "${hdr[@]}" "$url" | tee "$WORK/wrk-$tag.txt"
  c1="$(cpu_ticks "$HOST_PID")"
  local p50 p99 rps errs reqs cpu_per
  p50="$(awk '$1=="50%"{print $2}' "$WORK/wrk-$tag.txt")"
  p99="$(awk '$1=="99%"{print $2}' "$WORK/wrk-$tag.txt")"
  rps="$(awk '/^Requests\/sec:/{print $2}' "$WORK/wrk-$tag.txt")"
  errs="$(awk '/Non-2xx|Socket errors/' "$WORK/wrk-$tag.txt" | xargs)"
  reqs="$(awk '/requests in/{print $1}' "$WORK/wrk-$tag.txt")"
  # Host CPU time per answered request (load-independent, unlike the latencies): the server's
  # whole process (Kestrel + collection + rendering), not wrk.
  cpu_per="$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$reqs" 'BEGIN{ if (n > 0) printf "%.0f", (b-a)/t/n*1e6; else print "n/a" }')"
  SUMMARY+=("cache ${cache} ms${hdr:+ gzip}, -t$threads -c$conns: p50 ${p50}  p99 ${p99}  ${rps} req/s  host CPU ${cpu_per} us/request  load $(cut -d" " -f1 /proc/loadavg)  body $(wc -c <"$WORK/body-$tag.txt") bytes${errs:+  ($errs)}")

  kill "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true; HOST_PID=""
}

for CACHE in $CACHE_MODES; do
  run_case "$CACHE" "$THREADS" "$CONNECTIONS" "$DURATION"
done
# Service time of one uncached scrape without queueing behind other connections (SEQ_DURATION=0 skips it).
if [ "${SEQ_DURATION:-10s}" != 0 ]; then run_case 0 1 1 "${SEQ_DURATION:-10s}"; fi

echo
echo "== summary (target: p99 < 5 ms)   $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg), $(uname -r)"
echo "$ALLOC_LINE"
printf '%s\n' "${SUMMARY[@]}"
