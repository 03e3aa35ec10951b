#!/usr/bin/env bash
# Runs the stack the live ecosystem tests use, for poking at by hand: the published agent on the
# Simulator and Debian's prometheus (scraping it every second, with the damon-otel rules).
#
#   scripts/simulated-stack.sh [WORKLOAD]   (steady|stairs|zigzag|idle)
#
# Then open http://127.0.0.1:9090 (queries, /alerts, /rules) and http://127.0.0.1:9464/metrics.
# Ctrl-C stops both. Set DAMON_OTEL_AGENT_BINARY to skip publishing.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
workload="${1:-steady}"
agent_port="${AGENT_PORT:-9464}"
prom_port="${PROMETHEUS_PORT:-9090}"
work="$(mktemp -d)"

agent="${DAMON_OTEL_AGENT_BINARY:-}"
if [[ -z "$agent" ]]; then
  "$repo/scripts/publish-agent.sh" "$repo/artifacts/ecosystem-tests/agent"
  agent="$repo/artifacts/ecosystem-tests/agent/damon-otel"
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Empty roots: the simulated agent never looks at this machine's DAMON or tracing.
mkdir -p "$work"/{state,sys,tracing,proc,tsdb}
"$agent" run --simulate "$workload" --web.listen-address "127.0.0.1:$agent_port" --state-dir "$work/state" \
  --path.sysfs "$work/sys" --path.tracefs "$work/tracing" --path.procfs "$work/proc" &
pids+=($!)

cat > "$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$repo/config/prometheus/damon-otel-rules.yml"]
scrape_configs:
  - job_name: damon-otel
    static_configs: [{targets: ["127.0.0.1:$agent_port"]}]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn &
pids+=($!)

echo "agent: http://127.0.0.1:$agent_port/metrics   prometheus: http://127.0.0.1:$prom_port   (Ctrl-C to stop)"
wait -n "${pids[@]}"
