#!/usr/bin/env bash
# The agent as a whole, NativeAOT against JIT (single file) in the same run: start to first
# /metrics, steady CPU and RSS, measured by bench/agent/measure.py (one JSON line per run).
#
#   bench/agent/run.sh                       # replay, variants "aot jit", 2 rounds, 60 s each
#   ROUNDS=1 DURATION=30 bench/agent/run.sh
#   VARIANTS="aot aot:DOTNET_GCgen0size=0x200000 jit" bench/agent/run.sh
#   MODE=simulate bench/agent/run.sh          # the built-in Simulator instead of the replay tree
#
# MODE=replay (default): no Simulator in the process. bench/fixtures/make-tree.py builds a fake
#   host on tmpfs (/dev/shm) with 4 running paddr kdamonds x 1,000 tried regions at 100 ms
#   aggregation; the agent observes them (bench/agent/replay.yaml: attach, region_source
#   tried_regions, collection every 5 s) with --path.sysfs/--path.procfs/--path.tracefs on it,
#   so every CPU second measured is the agent's own (reading ~16,000 files per collection,
#   summarising, serving scrapes).
# MODE=simulate: `run --simulate steady --config bench/agent/simulate.yaml` (4 kdamonds x 1,000
#   regions at 100 ms aggregation, regions from the tracepoint, i.e. 40,000 trace lines/s). The
#   Simulator's real-time thread is reported apart (sim %); what it renders lazily when the
#   agent reads its files stays in the agent figure, an upper bound.
#
# A variant is BUILD[:K=V[,K=V...]]: the binary is $AGENT_<BUILD> (aot and jit are published when
# unset; any other name, e.g. aotsize with AGENT_AOTSIZE=<binary>, must be given), the K=V pairs
# are environment for that run (GC knobs), except config=FILE: the agent's config, a file in
# bench/agent/ (default replay.yaml, or simulate.yaml with MODE=simulate), e.g.
#   MODE=simulate VARIANTS="aot:config=simulate-tried-regions.yaml aot:config=simulate-tried-bytes.yaml" bench/agent/run.sh
# Builds come from scripts/publish-agent.sh (default NativeAOT, --jit) into bench/agent/bin/aot
# and bin-jit; AGENT_AOT=<binary> / AGENT_JIT=<binary> skip a publish.
# Runs alternate between variants (round 1: all variants, round 2: all variants, ...) so a
# change in the machine's load hits every variant alike. Scrapes send Accept-Encoding: gzip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODE="${MODE:-replay}"
DURATION="${DURATION:-60}"
WARMUP="${WARMUP:-10}"
SCRAPE_EVERY="${SCRAPE_EVERY:-5}"
ROUNDS="${ROUNDS:-2}"
VARIANTS="${VARIANTS:-aot jit}"
WORK="$(mktemp -d /dev/shm/damon-otel-agent-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

need_build() { [[ " $VARIANTS " == *" $1"[\ :]* ]]; }
if need_build aot && [[ -z ${AGENT_AOT:-} ]]; then
  echo "== scripts/publish-agent.sh bench/agent/bin/aot (NativeAOT)"
  "$ROOT/scripts/publish-agent.sh" "$ROOT/bench/agent/bin/aot" >"$WORK/publish-aot.log" 2>&1 || { tail -20 "$WORK/publish-aot.log"; exit 1; }
  AGENT_AOT="$ROOT/bench/agent/bin/aot/damon-otel"
fi
if need_build jit && [[ -z ${AGENT_JIT:-} ]]; then
  echo "== scripts/publish-agent.sh --jit bench/agent/bin/jit (single-file JIT)"
  "$ROOT/scripts/publish-agent.sh" --jit "$ROOT/bench/agent/bin/jit" >"$WORK/publish-jit.log" 2>&1 || { tail -20 "$WORK/publish-jit.log"; exit 1; }
  AGENT_JIT="$ROOT/bench/agent/bin/jit/damon-otel"
fi

if [[ $MODE == replay ]]; then
  python3 "$ROOT/bench/fixtures/make-tree.py" "$WORK/host" 4 1000
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RESULTS="$WORK/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for variant in $VARIANTS; do
    build="${variant%%:*}"
    envs=()
    config=""
    if [[ $variant == *:* ]]; then
      IFS=',' read -r -a kvs <<<"${variant#*:}"
      for kv in "${kvs[@]}"; do
        if [[ $kv == config=* ]]; then config="${kv#config=}"; else envs+=(--env "$kv"); fi
      done
    fi
    binvar="AGENT_${build^^}"; bin="${!binvar:-}"
    [[ -n $bin ]] || { echo "variant $variant: no binary (set $binvar)" >&2; exit 1; }
    port="$(free_port)"
    state="$WORK/state-$round-$port"; mkdir -p "$state"
    if [[ $MODE == replay ]]; then
      args=(run --config "$ROOT/bench/agent/${config:-replay.yaml}" --path.sysfs "$WORK/host/sys" --path.tracefs "$WORK/host/tracing"
        --path.procfs "$WORK/host/proc" --state-dir "$state" --web.listen-address "127.0.0.1:$port")
    else
      args=(run --simulate steady --config "$ROOT/bench/agent/${config:-simulate.yaml}" --state-dir "$state" --web.listen-address "127.0.0.1:$port")
    fi
    echo "== round $round: $variant ($MODE, ${DURATION} s after ${WARMUP} s warm-up, scrape every ${SCRAPE_EVERY} s)"
    python3 "$ROOT/bench/agent/measure.py" --label "$variant" --port "$port" --duration "$DURATION" --warmup "$WARMUP" \
      --scrape-every "$SCRAPE_EVERY" --log "$WORK/agent-$round-$port.log" "${envs[@]}" -- "$bin" "${args[@]}" | tee -a "$RESULTS"
  done
done

echo
echo "== summary ($MODE; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r); binary sizes:" \
  "$( [[ -n ${AGENT_AOT:-} ]] && du -h "$AGENT_AOT" | cut -f1) aot, $( [[ -n ${AGENT_JIT:-} ]] && du -h "$AGENT_JIT" | cut -f1) jit)"
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cols = [("label", "variant", "{}"), ("start_to_metrics_ms", "start→/metrics ms", "{:.0f}"), ("start_to_data_ms", "start→data ms", "{:.0f}"),
        ("start_cpu_s", "start CPU s", "{:.2f}"), ("cpu_pct", "CPU % core", "{:.2f}"), ("sim_thread_pct", "sim thread %", "{:.2f}"),
        ("agent_pct", "agent %", "{:.2f}"), ("rss_median_mb", "RSS MB (median)", "{:.1f}"), ("hwm_mb", "peak RSS MB", "{:.1f}"),
        ("rss_anon_mb", "anon MB", "{:.1f}"), ("rss_file_mb", "file MB", "{:.1f}"), ("threads", "threads", "{}"), ("load", "load", "{:.1f}")]
print("| " + " | ".join(c[1] for c in cols) + " |")
print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(cols))) + "|")
for r in rows:
    print("| " + " | ".join(f.format(r.get(k, float("nan"))) for k, _, f in cols) + " |")
PY
