#!/usr/bin/env bash
# The agent as a whole: `damon-otel run --simulate WORKLOAD` (Release) for DURATION seconds on
# loopback, /metrics scraped every SCRAPE_EVERY seconds (as Prometheus would), then its own
# CPU seconds per wall second (utime+stime from /proc/<pid>/stat) and peak RSS (VmHWM).
#   bench/agent/run.sh                          # steady, 60 s, scrape every 5 s
#   DURATION=30 WORKLOAD=phases bench/agent/run.sh
# The simulated kernel runs inside the agent process; its real-time loop is the only thread
# named ".NET Long Running Task" (comm ".NET Long Runni"), whose CPU is reported separately.
# Work the simulator does lazily when the agent reads its files lands on the agent's threads.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION="${DURATION:-60}"
SCRAPE_EVERY="${SCRAPE_EVERY:-5}"
WORKLOAD="${WORKLOAD:-steady}"
OUT="$ROOT/bench/agent/bin"
TCK="$(getconf CLK_TCK)"

echo "== building damon-otel (Release)"
dotnet build -c Release -o "$OUT" "$ROOT/src/DamonOtel.Agent/DamonOtel.Agent.csproj" -nologo -v quiet >/dev/null

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT/metrics"
WORK="$(mktemp -d)"
AGENT_PID=""
cleanup() {
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# utime+stime (ticks) of a /proc stat file; the comm field may hold spaces, so cut after ')'.
ticks() { sed 's/^.*) //' "$1" | awk '{print $12 + $13}'; }
sim_ticks() {
  local sum=0 t
  for t in /proc/"$AGENT_PID"/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = ".NET Long Runni" ]; then sum=$((sum + $(ticks "$t/stat"))); fi
  done
  echo "$sum"
}

"$OUT/damon-otel" run --simulate "$WORKLOAD" --listen "127.0.0.1:$PORT" --state-dir "$WORK/state" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 300); do curl -fsS -o /dev/null "$URL" 2>/dev/null && break; kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
if ! curl -fsS -o /dev/null "$URL"; then echo "agent did not start:" >&2; cat "$WORK/agent.log" >&2; exit 1; fi

echo "== agent pid $AGENT_PID, $URL, $WORKLOAD for ${DURATION} s, scrape every ${SCRAPE_EVERY} s"
T0="$(date +%s.%N)"; C0="$(ticks /proc/$AGENT_PID/stat)"; S0="$(sim_ticks)"
SCRAPES=0; BYTES=0; MAXMS=0
END=$(( $(date +%s) + DURATION ))
while [ "$(date +%s)" -lt "$END" ]; do
  read -r code size secs < <(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$URL")
  [ "$code" = 200 ] || { echo "scrape answered HTTP $code" >&2; exit 1; }
  ms="$(awk -v s="$secs" 'BEGIN{printf "%.1f", s*1000}')"
  SCRAPES=$((SCRAPES + 1)); BYTES="$size"
  MAXMS="$(awk -v a="$MAXMS" -v b="$ms" 'BEGIN{print (b>a)?b:a}')"
  sleep "$SCRAPE_EVERY"
done
T1="$(date +%s.%N)"; C1="$(ticks /proc/$AGENT_PID/stat)"; S1="$(sim_ticks)"
HWM="$(awk '/^VmHWM/{print $2, $3}' /proc/$AGENT_PID/status)"
RSS="$(awk '/^VmRSS/{print $2, $3}' /proc/$AGENT_PID/status)"
THREADS="$(ls /proc/$AGENT_PID/task | wc -l)"

echo
echo "== summary   $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg), $(uname -r), $(dotnet --version) SDK"
awk -v t0="$T0" -v t1="$T1" -v c0="$C0" -v c1="$C1" -v s0="$S0" -v s1="$S1" -v tck="$TCK" 'BEGIN{
  wall=t1-t0; cpu=(c1-c0)/tck; sim=(s1-s0)/tck;
  printf "wall %.1f s; process CPU %.2f s = %.4f CPU-s per s (%.2f %% of one core)\n", wall, cpu, cpu/wall, 100*cpu/wall;
  printf "  of which the simulator real-time thread %.2f s (%.2f %%); the rest (agent + lazily simulated files) %.2f s = %.2f %% of one core\n", sim, 100*sim/wall, cpu-sim, 100*(cpu-sim)/wall }'
echo "peak RSS (VmHWM) $HWM; RSS at end $RSS; $THREADS threads"
echo "$SCRAPES scrapes of $BYTES bytes, slowest ${MAXMS} ms"
