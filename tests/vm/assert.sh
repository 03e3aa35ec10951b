#!/usr/bin/env bash
# PromQL assertions for the real-kernel VM test (agent mode), run by tests/vm/run at each
# phase checkpoint against Debian's prometheus, which scrapes damon-otel inside the VM.
#
#   assert.sh --prom URL --phase N --true-bytes B --total-bytes T --cold-bytes C --cold-age S
#             [--tolerance PCT] [--snapshot FILE] [--report FILE]
#
# true-bytes: wsgen's current hot set; cold-bytes: bytes of wsgen untouched since phase 1
# started, cold-age: seconds since then. Expected values come from wsgen's ground truth,
# never from the agent. Exit 0 when every check passes, 1 otherwise.
#
# DRAFT parts (the agent is being written in parallel): label values (kdamond names from
# tests/vm/agent-config.yaml, quantile="0.5"/"0.9") and the snapshot JSON shape (SNAPSHOT_WSS_JQ).
set -euo pipefail

PROM="" PHASE="" TRUE_B="" TOTAL_B="" COLD_B="" COLD_AGE="" TOL=25 SNAPSHOT="" REPORT=/dev/null
while (($#)); do
	case $1 in
	--prom) PROM=$2 ;;
	--phase) PHASE=$2 ;;
	--true-bytes) TRUE_B=$2 ;;
	--total-bytes) TOTAL_B=$2 ;;
	--cold-bytes) COLD_B=$2 ;;
	--cold-age) COLD_AGE=$2 ;;
	--tolerance) TOL=$2 ;;
	--snapshot) SNAPSHOT=$2 ;;
	--report) REPORT=$2 ;;
	*) echo "assert.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift 2
done
for v in PROM PHASE TRUE_B TOTAL_B COLD_B COLD_AGE; do
	[[ -n ${!v} ]] || { echo "assert.sh: missing --$(tr '[:upper:]_' '[:lower:]-' <<<"$v" | sed 's/true-b/true-bytes/; s/total-b/total-bytes/; s/cold-b/cold-bytes/')" >&2; exit 2; }
done

VADDR_KDAMONDS=(wsgen_tp wsgen_tr)   # tracepoint source, tried_regions source
PADDR_KDAMOND=system
ALL_KDAMONDS=("${VADDR_KDAMONDS[@]}" "$PADDR_KDAMOND")
TARGET=wsgen
WINDOW=30s   # medians over this window: one aggregation with a starved vCPU must not decide
# jq program: snapshot JSON -> lines "<kdamond> <target> <working_set_bytes>" (DRAFT shape)
SNAPSHOT_WSS_JQ=${SNAPSHOT_WSS_JQ:-'.kdamonds[] | .name as $k | .targets[] | "\($k) \(.name) \(.working_set_bytes)"'}

FAILED=0
pass() { printf '  PASS  %s\n' "$*"; }
failc() { printf '  FAIL  %s\n' "$*"; FAILED=$((FAILED + 1)); }
# Instant query; prints one line per series: "<labels as k=v,...> <value>".
q() {
	local out
	out=$(curl -fsS --max-time 10 --data-urlencode "query=$1" "$PROM/api/v1/query") || { echo "assert.sh: query failed: $1" >&2; return 1; }
	jq -r '.data.result[] | "\(.metric | to_entries | map("\(.key)=\(.value)") | join(",")) \(.value[1])"' <<<"$out"
}
# Single value of a query (first series), or empty.
q1() { q "$1" | head -1 | awk '{ print $NF }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
within() { awk -v m="$1" -v t="$2" -v p="$3" 'BEGIN { d = m - t; if (d < 0) d = -d; exit !(m != "" && t > 0 && d * 100 <= t * p) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 > b + 0) }'; }
sel() { echo "kdamond=\"$1\",target=\"$TARGET\""; }

# --- health of every kdamond -----------------------------------------------------------------
for k in "${ALL_KDAMONDS[@]}"; do
	v=$(q1 "damon_kdamond_up{kdamond=\"$k\"}")
	[[ $v == 1 ]] && pass "kdamond $k up" || failc "kdamond $k up (damon_kdamond_up=${v:-absent})"
	v=$(q1 "increase(damon_kdamond_cpu_time_seconds_total{kdamond=\"$k\"}[$WINDOW])")
	gt "$v" 0 && pass "kdamond $k CPU time increases (+${v}s over $WINDOW)" ||
		failc "kdamond $k CPU time increases (increase over $WINDOW = ${v:-absent})"
done
v=$(q1 'sum(damon_otel_collection_errors_total)')
[[ -n $v ]] && awk -v v="$v" 'BEGIN { exit !(v == 0) }' && pass "no collection errors" ||
	failc "no collection errors (sum(damon_otel_collection_errors_total)=${v:-absent}: $(q 'damon_otel_collection_errors_total > 0' | tr '\n' ';'))"

# --- WSS per source against the ground truth ---------------------------------------------------
echo "phase $PHASE  true hot set $(mib "$TRUE_B")" >>"$REPORT"
for k in "${VADDR_KDAMONDS[@]}"; do
	v=$(q1 "quantile_over_time(0.5, damon_memory_working_set_bytes{$(sel "$k")}[$WINDOW])")
	printf '  %-9s WSS median %s (true %s)\n' "$k" "$(mib "${v:-0}")" "$(mib "$TRUE_B")" >>"$REPORT"
	within "$v" "$TRUE_B" "$TOL" && pass "$k WSS median $(mib "$v") within $TOL% of true $(mib "$TRUE_B")" ||
		failc "$k WSS median $(mib "${v:-0}") within $TOL% of true $(mib "$TRUE_B")"
	m=$(q1 "damon_memory_monitored_bytes{$(sel "$k")}")
	ge "$m" "$TOTAL_B" && pass "$k monitors at least wsgen's $(mib "$TOTAL_B") ($(mib "$m"))" ||
		failc "$k monitored bytes ${m:-absent} >= wsgen's $TOTAL_B"
done
# paddr sees the whole machine: the workload's hot pages are a lower bound.
v=$(q1 "quantile_over_time(0.5, (sum by (kdamond) (damon_memory_working_set_bytes{kdamond=\"$PADDR_KDAMOND\"}))[$WINDOW:2s])")
printf '  %-9s WSS median %s (whole RAM; >= 75%% of the hot set expected)\n' "$PADDR_KDAMOND" "$(mib "${v:-0}")" >>"$REPORT"
ge "$v" "$(awk -v t="$TRUE_B" 'BEGIN { print int(t * 0.75) }')" && pass "$PADDR_KDAMOND (paddr) WSS $(mib "$v") covers the hot set" ||
	failc "$PADDR_KDAMOND (paddr) WSS $(mib "${v:-0}") >= 75% of $(mib "$TRUE_B")"

# --- idle time: the untouched part is idle, and its idle time grows ---------------------------
for k in "${VADDR_KDAMONDS[@]}"; do
	# Largest finite bucket bound at most half the true cold age: bytes idle longer than it
	# must include (most of) the cold part.
	les=$(q "damon_memory_idle_bytes{$(sel "$k")}" | sed -n 's/.*le=\([^, ]*\).*/\1/p' | grep -v Inf | sort -g | uniq)
	[[ -n $les ]] || { failc "$k has damon_memory_idle_bytes buckets"; continue; }
	le=$(awk -v lim="$(awk -v a="$COLD_AGE" 'BEGIN { print a / 2 }')" '$1 <= lim { x = $1 } END { print x }' <<<"$les")
	if [[ -z $le ]]; then
		failc "$k: no idle bucket bound <= half the cold age (${COLD_AGE}s); bounds: $(tr '\n' ' ' <<<"$les")"
	else
		v=$(q1 "damon_memory_idle_bytes{$(sel "$k"),le=\"+Inf\"} - ignoring(le) damon_memory_idle_bytes{$(sel "$k"),le=\"$le\"}")
		ge "$v" "$(awk -v c="$COLD_B" 'BEGIN { print int(c * 0.75) }')" &&
			pass "$k: $(mib "$v") idle longer than ${le}s (untouched: $(mib "$COLD_B") for ${COLD_AGE}s)" ||
			failc "$k: bytes idle longer than ${le}s = $(mib "${v:-0}"), want >= 75% of untouched $(mib "$COLD_B")"
	fi
	# p90 lies in the oldest cold part in both phases: it must grow over the window.
	now=$(q1 "damon_memory_idle_time_seconds{$(sel "$k"),quantile=\"0.9\"}")
	before=$(q1 "damon_memory_idle_time_seconds{$(sel "$k"),quantile=\"0.9\"} offset 20s")
	gt "$now" "$before" && pass "$k: idle time p90 grows (${before}s -> ${now}s over 20s)" ||
		failc "$k: idle time p90 grows (${before:-absent}s -> ${now:-absent}s over 20s)"
	ge "$now" "$(awk -v a="$COLD_AGE" 'BEGIN { print a / 2 }')" && pass "$k: idle time p90 ${now}s >= half the true cold age ${COLD_AGE}s" ||
		failc "$k: idle time p90 ${now:-absent}s >= half the true cold age ${COLD_AGE}s"
	# The quantile gauges and histogram_quantile over the buckets must land in the same or an
	# adjacent bucket (histogram_quantile interpolates linearly inside a bucket).
	for quant in 0.5 0.9; do
		g=$(q1 "damon_memory_idle_time_seconds{$(sel "$k"),quantile=\"$quant\"}")
		h=$(q1 "histogram_quantile($quant, damon_memory_idle_bytes{$(sel "$k")})")
		bi() { awk -v x="$1" 'BEGIN { i = 0 } { if (x + 0 > $1 + 0) i = NR } END { print i }' <<<"$les"; }
		if [[ -n $g && -n $h ]] && (($(bi "$g") - $(bi "$h") <= 1 && $(bi "$h") - $(bi "$g") <= 1)); then
			pass "$k: idle p$quant gauge ${g}s agrees with histogram_quantile ${h}s"
		else
			failc "$k: idle p$quant gauge ${g:-absent}s vs histogram_quantile ${h:-absent}s (buckets $(tr '\n' ' ' <<<"$les"))"
		fi
	done
done

# --- DAMOS counters ------------------------------------------------------------------------------
v=$(q1 "sum(increase(damos_scheme_tried_total{kdamond=\"$PADDR_KDAMOND\",scheme=\"stat_quota\"}[$WINDOW]))")
gt "$v" 0 && pass "damos_scheme_tried_total of $PADDR_KDAMOND/stat_quota increases (+$v)" ||
	failc "damos_scheme_tried_total of $PADDR_KDAMOND/stat_quota increases (${v:-absent})"
v=$(q1 "sum(damos_scheme_applied_size_bytes_total{kdamond=\"$PADDR_KDAMOND\",scheme=\"stat_quota\",action=\"stat\"})")
[[ -n $v ]] && pass "damos_scheme_applied_size_bytes_total present for stat_quota ($v)" ||
	failc "damos_scheme_applied_size_bytes_total{scheme=\"stat_quota\",action=\"stat\"} present"

# --- damon-otel snapshot (run inside the VM) agrees with the scraped gauges --------------------
if [[ -n $SNAPSHOT ]]; then
	if ! lines=$(jq -r "$SNAPSHOT_WSS_JQ" "$SNAPSHOT" 2>/dev/null) || [[ -z $lines ]]; then
		failc "snapshot JSON parses with SNAPSHOT_WSS_JQ ($(head -c 200 "$SNAPSHOT" | tr '\n' ' '))"
	else
		for k in "${VADDR_KDAMONDS[@]}"; do
			s=$(awk -v k="$k" -v t="$TARGET" '$1 == k && $2 == t { print $3 }' <<<"$lines" | head -1)
			g=$(q1 "quantile_over_time(0.5, damon_memory_working_set_bytes{$(sel "$k")}[10s])")
			within "$s" "${g:-0}" "$TOL" && pass "snapshot WSS of $k $(mib "$s") agrees with scraped $(mib "$g")" ||
				failc "snapshot WSS of $k ${s:-absent} vs scraped ${g:-absent} (within $TOL%)"
		done
	fi
fi

((FAILED == 0)) || { echo "  $FAILED check(s) failed in phase $PHASE"; exit 1; }
