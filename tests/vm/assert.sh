#!/usr/bin/env bash
# PromQL assertions for the real-kernel VM test (agent mode), run by tests/vm/run at each
# phase checkpoint against Debian's prometheus, which scrapes damon-otel inside the VM.
#
#   assert.sh [--kernel TAG] --prom URL --phase N --true-bytes B --total-bytes T --cold-bytes C --cold-age S
#             [--time UNIX_TS] [--tolerance PCT] [--report FILE]
#             [--snapshot FILE --snapshot-time UNIX_TS --ownership FILE]
#
# true-bytes: wsgen's current hot set; cold-bytes: bytes of wsgen untouched since phase 1
# started; cold-age: seconds they have been untouched while the agent's kdamonds ran (DAMON
# cannot see idleness from before it started). Expected values come from wsgen's ground
# truth, never from the agent. --time evaluates every query at that instant (the checkpoint),
# so a slow host cannot mix the next phase into this one. --snapshot is the output of
# `damon-otel snapshot --format json` in the VM, --ownership the agent's
# /run/damon-otel/kdamonds.json (kdamond index -> name). --kernel names the guest kernel on
# every PASS/FAIL line (the VM test runs on several). Exit 0 when every check passes.
set -uo pipefail # no -e: an absent series is a FAIL line, never a silent exit

PROM="" PHASE="" TRUE_B="" TOTAL_B="" COLD_B="" COLD_AGE="" TOL=25 SNAPSHOT="" OWNERSHIP="" REPORT=/dev/null AT="" SNAP_AT="" SNAP_RSS=0 KTAG=""
while (($#)); do
	case $1 in
	--kernel) KTAG=$2 ;;
	--prom) PROM=$2 ;;
	--phase) PHASE=$2 ;;
	--true-bytes) TRUE_B=$2 ;;
	--total-bytes) TOTAL_B=$2 ;;
	--cold-bytes) COLD_B=$2 ;;
	--cold-age) COLD_AGE=$2 ;;
	--time) AT=$2 ;;
	--tolerance) TOL=$2 ;;
	--snapshot) SNAPSHOT=$2 ;;
	--snapshot-time) SNAP_AT=$2 ;;
	--snapshot-rss-bytes) SNAP_RSS=$2 ;;
	--ownership) OWNERSHIP=$2 ;;
	--report) REPORT=$2 ;;
	*) echo "assert.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift 2
done
for v in PROM:prom PHASE:phase TRUE_B:true-bytes TOTAL_B:total-bytes COLD_B:cold-bytes COLD_AGE:cold-age; do
	var=${v%%:*}
	[[ -n ${!var} ]] || { echo "assert.sh: missing --${v#*:}" >&2; exit 2; }
done

# Names from tests/vm/agent-config.yaml.
VADDR_KDAMONDS=(wsgen_tp wsgen_tr)   # tracepoint source, tried_regions source
PADDR_KDAMOND=system
ALL_KDAMONDS=("${VADDR_KDAMONDS[@]}" "$PADDR_KDAMOND")
declare -A TARGET_OF=([wsgen_tp]=wsgen [wsgen_tr]=wsgen [system]=ram)
TRIED_KDAMONDS=(wsgen_tr system)     # the kdamonds `damon-otel snapshot` reports
WINDOW=30s   # medians over this window: one aggregation with a starved vCPU must not decide

FAILED=0
pass() { printf '  PASS  %s%s\n' "${KTAG:+[$KTAG] }" "$*"; }
failc() { printf '  FAIL  %s%s\n' "${KTAG:+[$KTAG] }" "$*"; FAILED=$((FAILED + 1)); }
# Instant query (at --time when given); prints one line per series: "<k=v,...> <value>".
q() {
	local out args=(--data-urlencode "query=$1")
	[[ -n $AT ]] && args+=(--data-urlencode "time=$AT")
	out=$(curl -fsS --max-time 20 "${args[@]}" "$PROM/api/v1/query") || { echo "assert.sh: query failed: $1" >&2; return 0; }
	jq -r '.data.result[] | "\(.metric | to_entries | map("\(.key)=\(.value)") | join(",")) \(.value[1])"' <<<"$out"
}
# Single value of a query (first series), or empty.
q1() { q "$1" | head -1 | awk '{ print $NF }'; }
# The latest sample of a selector within 15 s: a scrape that timed out under TCG (the series
# goes stale at once) must not read as "absent".
last() { echo "last_over_time($1[15s])"; }
mib() { awk -v b="$1" 'BEGIN { if (b == "") print "absent"; else printf "%.1f MiB", b / 1048576 }'; }
num() { awk -v b="$1" 'BEGIN { if (b == "") print "absent"; else printf "%.3g", b }'; }
within() { awk -v m="$1" -v t="$2" -v p="$3" 'BEGIN { d = m - t; if (d < 0) d = -d; exit !(m != "" && t > 0 && d * 100 <= t * p) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 > b + 0) }'; }
pct() { awk -v m="$1" -v t="$2" 'BEGIN { if (m != "" && t > 0) printf "%+.1f%%", (m - t) * 100 / t; else print "n/a" }'; }
# The raw samples of a series over the window divided by $2 (1048576: MiB), for a failure's diagnosis.
samples() {
	local args=(--data-urlencode "query=$1[$WINDOW]")
	[[ -n $AT ]] && args+=(--data-urlencode "time=$AT")
	curl -fsS --max-time 20 "${args[@]}" "$PROM/api/v1/query" |
		jq -r --argjson d "$2" '[.data.result[0].values[]? | .[1] | tonumber / $d | floor] | map(tostring) | join(" ")' 2>/dev/null || echo "unavailable"
}
sel() { echo "kdamond=\"$1\",target=\"${TARGET_OF[$1]}\""; }

# --- health of every kdamond and of the collection ----------------------------------------------
echo "phase $PHASE  true hot set $(mib "$TRUE_B")${KTAG:+  (kernel $KTAG)}" >>"$REPORT"
for k in "${ALL_KDAMONDS[@]}"; do
	v=$(q1 "$(last "damon_kdamond_up{kdamond=\"$k\"}")")
	[[ $v == 1 ]] && pass "kdamond $k up" || failc "kdamond $k up (damon_kdamond_up=${v:-absent})"
	v=$(q1 "increase(damon_kdamond_cpu_time_seconds_total{kdamond=\"$k\"}[$WINDOW])")
	c=$(q1 "$(last "damon_kdamond_cpu_time_seconds_total{kdamond=\"$k\"}")")
	printf '  %-9s kdamond CPU %ss (+%ss over %s)\n' "$k" "$(num "$c")" "$(num "$v")" "$WINDOW" >>"$REPORT"
	gt "$v" 0 && pass "kdamond $k CPU time increases (+$(num "$v")s over $WINDOW, total $(num "$c")s)" ||
		failc "kdamond $k CPU time increases (increase over $WINDOW = ${v:-absent}, total ${c:-absent})"
done
# Every source must be scraped (else "no errors" would be vacuous) and up.
sources=$(q "$(last damon_otel_source_up)")
n_sources=$(grep -c . <<<"$sources" || true)
down=$(awk '$NF != 1' <<<"$sources" | tr '\n' ';')
((n_sources >= 4)) && [[ -z $down ]] && pass "all $n_sources collection sources up" ||
	failc "collection sources up (found $n_sources, want >= 4: 3 kdamonds + tracepoint; down: ${down:-none})"
v=$(q1 "sum(increase(damon_otel_collection_errors_total[$WINDOW])) or vector(0)")
total=$(q "$(last damon_otel_collection_errors_total) > 0" | tr '\n' ';')
awk -v v="$v" 'BEGIN { exit !(v != "" && v + 0 == 0) }' && pass "no collection errors over $WINDOW (increase 0; errors since start: ${total:-none})" ||
	failc "no collection errors over $WINDOW (increase ${v:-absent}; counters > 0: ${total:-none})"

# --- WSS per source against the ground truth ----------------------------------------------------
for k in "${VADDR_KDAMONDS[@]}"; do
	v=$(q1 "quantile_over_time(0.5, damon_memory_working_set_bytes{$(sel "$k")}[$WINDOW])")
	lo=$(q1 "min_over_time(damon_memory_working_set_bytes{$(sel "$k")}[$WINDOW])")
	hi=$(q1 "max_over_time(damon_memory_working_set_bytes{$(sel "$k")}[$WINDOW])")
	printf '  %-9s WSS median %-10s %7s  (min %s, max %s over %s)\n' "$k" "$(mib "$v")" "$(pct "$v" "$TRUE_B")" "$(mib "$lo")" "$(mib "$hi")" "$WINDOW" >>"$REPORT"
	within "$v" "$TRUE_B" "$TOL" && pass "$k WSS median $(mib "$v") within $TOL% of true $(mib "$TRUE_B") ($(pct "$v" "$TRUE_B"))" ||
		{
			failc "$k WSS median $(mib "$v") within $TOL% of true $(mib "$TRUE_B") ($(pct "$v" "$TRUE_B"); min $(mib "$lo"), max $(mib "$hi") over $WINDOW)"
			echo "        samples over $WINDOW, oldest first: WSS MiB $(samples "damon_memory_working_set_bytes{$(sel "$k")}" 1048576);" \
				"monitored MiB $(samples "damon_memory_monitored_bytes{$(sel "$k")}" 1048576); regions $(samples "damon_region_count{$(sel "$k")}" 1)"
		}
	m=$(q1 "$(last "damon_memory_monitored_bytes{$(sel "$k")}")")
	ge "$m" "$TOTAL_B" && pass "$k monitors at least wsgen's $(mib "$TOTAL_B") ($(mib "$m"))" ||
		failc "$k monitored bytes $(mib "$m") >= wsgen's $(mib "$TOTAL_B")"
done
# paddr sees the whole machine: the workload's hot pages are a lower bound.
v=$(q1 "quantile_over_time(0.5, damon_memory_working_set_bytes{$(sel "$PADDR_KDAMOND")}[$WINDOW])")
printf '  %-9s WSS median %-10s (whole RAM; >= 75%% of the hot set expected)\n' "$PADDR_KDAMOND" "$(mib "$v")" >>"$REPORT"
ge "$v" "$(awk -v t="$TRUE_B" 'BEGIN { print int(t * 0.75) }')" && pass "$PADDR_KDAMOND (paddr) WSS median $(mib "$v") covers >= 75% of the hot set" ||
	failc "$PADDR_KDAMOND (paddr) WSS median $(mib "$v") >= 75% of $(mib "$TRUE_B")"

# --- idle time: the untouched part is idle, and its idle time grows ---------------------------
half_age=$(awk -v a="$COLD_AGE" 'BEGIN { print a / 2 }')
# The bytes-idle bound is a third of the cold age: ages count aggregations, and under TCG with
# 4 kdamonds and 6 workloads one aggregation of 1 s took 1.23-1.26 s (damon_aggregated
# timestamps), so ages lag wall time by ~20 %; DAMON also averages ages when it merges regions.
third_age=$(awk -v a="$COLD_AGE" 'BEGIN { print a / 3 }')
for k in "${VADDR_KDAMONDS[@]}"; do
	les=$(q "$(last "damon_memory_idle_bytes{$(sel "$k")}")" | sed -n 's/.*le=\([^, ]*\).*/\1/p' | grep -v Inf | sort -g | uniq)
	[[ -n $les ]] || { failc "$k has damon_memory_idle_bytes buckets"; continue; }
	# Largest finite bound at most a third of the cold age: bytes idle longer than it must
	# include (most of) the untouched part.
	le=$(awk -v lim="$third_age" '$1 + 0 <= lim + 0 { x = $1 } END { print x }' <<<"$les")
	if [[ -z $le ]]; then
		failc "$k: no idle bucket bound <= a third of the cold age (${COLD_AGE}s); bounds: $(tr '\n' ' ' <<<"$les")"
	else
		v=$(q1 "$(last "damon_memory_idle_bytes{$(sel "$k"),le=\"+Inf\"}") - ignoring(le) $(last "damon_memory_idle_bytes{$(sel "$k"),le=\"$le\"}")")
		printf '  %-9s idle > %ss: %s (untouched %s for %ss)\n' "$k" "$le" "$(mib "$v")" "$(mib "$COLD_B")" "$COLD_AGE" >>"$REPORT"
		ge "$v" "$(awk -v c="$COLD_B" 'BEGIN { print int(c * 0.75) }')" &&
			pass "$k: $(mib "$v") idle longer than ${le}s (untouched: $(mib "$COLD_B") for ${COLD_AGE}s)" ||
			failc "$k: bytes idle longer than ${le}s = $(mib "$v"), want >= 75% of untouched $(mib "$COLD_B") (for ${COLD_AGE}s)"
	fi
	# p90 lies in the oldest cold part in both phases: it must grow while nothing touches it.
	now=$(q1 "$(last "damon_memory_idle_time_seconds{$(sel "$k"),quantile=\"0.9\"}")")
	before=$(q1 "last_over_time(damon_memory_idle_time_seconds{$(sel "$k"),quantile=\"0.9\"}[15s] offset 20s)")
	printf '  %-9s idle p90 %ss (20 s earlier %ss)\n' "$k" "$(num "$now")" "$(num "$before")" >>"$REPORT"
	gt "$now" "$before" && pass "$k: idle time p90 grows (${before}s -> ${now}s over 20s)" ||
		failc "$k: idle time p90 grows (${before:-absent}s -> ${now:-absent}s over 20s)"
	ge "$now" "$half_age" && pass "$k: idle time p90 ${now}s >= half the cold age (${COLD_AGE}s)" ||
		failc "$k: idle time p90 ${now:-absent}s >= half the cold age (${COLD_AGE}s)"
	# The quantile gauge (exact, per byte) and histogram_quantile over the buckets of the same
	# snapshot must fall in the same bucket: histogram_quantile only interpolates inside it.
	# Bucket of x = the smallest bound >= x (index = number of bounds below x).
	bi() { awk -v x="$1" 'BEGIN { i = 0 } $1 + 0 < x + 0 { i++ } END { print i }' <<<"$les"; }
	for quant in 0.5 0.9; do
		g=$(q1 "$(last "damon_memory_idle_time_seconds{$(sel "$k"),quantile=\"$quant\"}")")
		h=$(q1 "histogram_quantile($quant, $(last "damon_memory_idle_bytes{$(sel "$k")}"))")
		if [[ -n $g && -n $h && $(bi "$g") == $(bi "$h") ]]; then
			pass "$k: idle p$quant gauge ${g}s in the same bucket as histogram_quantile ${h}s"
		else
			failc "$k: idle p$quant gauge ${g:-absent}s vs histogram_quantile ${h:-absent}s: not in the same bucket (bounds $(tr '\n' ' ' <<<"$les"))"
		fi
	done
done

# --- DAMOS counters of the quota-limited stat scheme ---------------------------------------------
ssel="kdamond=\"$PADDR_KDAMOND\",scheme=\"stat_quota\",action=\"stat\""
v=$(q1 "increase(damos_scheme_tried_total{$ssel}[$WINDOW])")
gt "$v" 0 && pass "damos_scheme_tried_total of $PADDR_KDAMOND/stat_quota increases (+$(num "$v") regions over $WINDOW)" ||
	failc "damos_scheme_tried_total of $PADDR_KDAMOND/stat_quota increases (${v:-absent})"
v=$(q1 "increase(damos_scheme_tried_size_bytes_total{$ssel}[$WINDOW])")
gt "$v" 0 && pass "damos_scheme_tried_size_bytes_total of $PADDR_KDAMOND/stat_quota increases (+$(mib "$v") over $WINDOW)" ||
	failc "damos_scheme_tried_size_bytes_total of $PADDR_KDAMOND/stat_quota increases (${v:-absent})"
qe=$(q1 "$(last "damos_scheme_quota_exceeds_total{$ssel}")")
tr_total=$(q1 "$(last "damos_scheme_tried_total{$ssel}")")
printf '  %-9s stat_quota: nr_tried %s, quota exceeded %s times\n' "$PADDR_KDAMOND" "$(num "$tr_total")" "$(num "$qe")" >>"$REPORT"

# --- damon-otel snapshot (run inside the VM) agrees with the scraped gauges --------------------
if [[ -n $SNAPSHOT ]]; then
	# snapshot targets carry the kdamond index; the ownership record names it.
	if ! lines=$(jq -r --slurpfile own "$OWNERSHIP" '
		($own[0].kdamonds | map({key: (.index | tostring), value: .name}) | from_entries) as $names
		| .targets[] | "\($names[.kdamond | tostring] // .kdamond) \(.target) \(.working_set_bytes) \(.monitored_bytes)"' \
		"$SNAPSHOT" 2>/dev/null) || [[ -z $lines ]]; then
		failc "snapshot JSON with targets ($(head -c 300 "$SNAPSHOT" | tr '\n' ' '))"
	else
		for k in "${TRIED_KDAMONDS[@]}"; do
			s=$(awk -v k="$k" '$1 == k && $2 == 0 { print $3 }' <<<"$lines" | head -1)
			# The snapshot is one walk at one instant; the agent's gauge is its own walks a few
			# seconds apart. Agreement: within TOL% of the gauge's median over the 20 s before
			# the snapshot ended, or inside the range the gauge itself spanned then, widened by
			# TOL%. paddr sees the whole machine, the snapshot process included: its upper bound
			# also allows the snapshot's own peak RSS, pages it touched while it walked, and DAMON's
			# TOL% applies to those too (regions holding some of them count whole: seen 336.0 MiB
			# against a 134-150 MiB gauge and a 170 MiB RSS).
			extra=0
			[[ $k == "$PADDR_KDAMOND" ]] && extra=$SNAP_RSS
			g=$(AT=${SNAP_AT:-$AT} q1 "quantile_over_time(0.5, damon_memory_working_set_bytes{$(sel "$k")}[20s])")
			lo=$(AT=${SNAP_AT:-$AT} q1 "min_over_time(damon_memory_working_set_bytes{$(sel "$k")}[20s])")
			hi=$(AT=${SNAP_AT:-$AT} q1 "max_over_time(damon_memory_working_set_bytes{$(sel "$k")}[20s])")
			printf '  %-9s snapshot WSS %s vs scraped %s (min %s, max %s over 20 s)\n' "$k" "$(mib "$s")" "$(mib "$g")" "$(mib "$lo")" "$(mib "$hi")" >>"$REPORT"
			if within "$s" "${g:-0}" "$TOL"; then
				pass "snapshot WSS of $k $(mib "$s") agrees with scraped $(mib "$g") ($(pct "$s" "$g"))"
			elif [[ -n $s && -n $lo && -n $hi ]] && awk -v s="$s" -v lo="$lo" -v hi="$hi" -v p="$TOL" -v x="$extra" 'BEGIN { exit !(s >= lo * (100 - p) / 100 && s <= (hi + x) * (100 + p) / 100) }'; then
				pass "snapshot WSS of $k $(mib "$s") within the scraped range $(mib "$lo")..$(mib "$hi") (max + snapshot RSS $(mib "$extra"), +-$TOL%; median $(mib "$g"))"
			else
				failc "snapshot WSS of $k $(mib "$s") vs scraped median $(mib "$g"), range $(mib "$lo")..$(mib "$hi") over 20 s (within $TOL%, + snapshot RSS $(mib "$extra"))"
			fi
		done
		n=$(awk '$1 == "wsgen_tp"' <<<"$lines" | wc -l)
		((n == 0)) && pass "snapshot leaves out the tracepoint kdamond wsgen_tp (it has no tried_regions)" ||
			failc "snapshot reported the tracepoint kdamond wsgen_tp ($n targets)"
	fi
fi

# --- procs: a target of several processes; vaddr numbers count mapped memory only ---------------
# init.sh starts a parent shell with 3 children `wsgen -N mpgen -t 64M -p 16M@0` (its vm_mp_*:
# keep in sync) and the mpgen kdamond follows the parent's pid file with include_children. The
# children stay in their one phase, so the truth is the same in both phases.
procs_checks() {
	local n=3 hot=$((16 << 20)) total=$((64 << 20)) tol=15 s='kdamond="mpgen",target="mp"' v w lo hi m u k le c
	v=$(q1 "$(last "damon_kdamond_up{kdamond=\"mpgen\"}")")
	[[ $v == 1 ]] && pass "kdamond mpgen up" || failc "kdamond mpgen up (damon_kdamond_up=${v:-absent})"
	v=$(q1 "$(last "damon_target_processes{$s,state=\"monitored\"}")")
	[[ $v == $((n + 1)) ]] && pass "mpgen/mp monitors the parent and its $n children ($v processes)" ||
		failc "mpgen/mp monitored processes ${v:-absent}, want $((n + 1)) (parent + $n children)"
	w=$(q1 "quantile_over_time(0.5, damon_memory_working_set_bytes{$s}[$WINDOW])")
	lo=$(q1 "min_over_time(damon_memory_working_set_bytes{$s}[$WINDOW])")
	hi=$(q1 "max_over_time(damon_memory_working_set_bytes{$s}[$WINDOW])")
	printf '  %-9s WSS median %-10s %7s  (truth %s = %d x %s; min %s, max %s)\n' mpgen "$(mib "$w")" "$(pct "$w" $((n * hot)))" "$(mib $((n * hot)))" "$n" "$(mib "$hot")" "$(mib "$lo")" "$(mib "$hi")" >>"$REPORT"
	within "$w" $((n * hot)) "$tol" && pass "mpgen/mp WSS median $(mib "$w") within $tol% of the children's hot sets $(mib $((n * hot))) ($(pct "$w" $((n * hot))))" ||
		failc "mpgen/mp WSS median $(mib "$w") within $tol% of $(mib $((n * hot))) ($(pct "$w" $((n * hot))); min $(mib "$lo"), max $(mib "$hi") over $WINDOW)"
	# Mapped only: the children's allocations plus binaries, stacks and the parent shell (a few MiB).
	m=$(q1 "$(last "damon_memory_monitored_bytes{$s}")")
	u=$(q1 "$(last "damon_memory_unmapped_bytes{$s}")")
	printf '  %-9s monitored %s, unmapped (left out) %s\n' mpgen "$(mib "$m")" "$(mib "$u")" >>"$REPORT"
	ge "$m" $((n * total)) && ! gt "$m" $((n * total + (n + 1) * (4 << 20))) &&
		pass "mpgen/mp monitored $(mib "$m"): the $n allocations of $(mib "$total") + at most 4 MiB a process (unmapped $(mib "$u") left out)" ||
		failc "mpgen/mp monitored $(mib "$m"), want $(mib $((n * total)))..$(mib $((n * total + (n + 1) * (4 << 20)))) (unmapped $(mib "$u"))"

	# wsgen: monitored = its mapped memory (1 GiB + a few MiB), never the unmapped space DAMON's
	# regions span; in phase 1 everything but the hot set is cold since start, so bytes idle
	# longer than the bucket the idle checks above use are within 15 % of the cold *mapped* bytes.
	for k in "${VADDR_KDAMONDS[@]}"; do
		m=$(q1 "$(last "damon_memory_monitored_bytes{$(sel "$k")}")")
		u=$(q1 "$(last "damon_memory_unmapped_bytes{$(sel "$k")}")")
		printf '  %-9s monitored %s, unmapped (left out) %s, DAMON regions %s\n' "$k" "$(mib "$m")" "$(mib "$u")" "$(mib "$(awk -v a="$m" -v b="$u" 'BEGIN { if (a != "" && b != "") print a + b }')")" >>"$REPORT"
		[[ -n $u ]] && ! gt "$m" $((TOTAL_B + (8 << 20))) &&
			pass "$k monitors mapped memory only: $(mib "$m") <= wsgen's $(mib "$TOTAL_B") + 8 MiB (unmapped $(mib "$u") exported apart)" ||
			failc "$k monitored $(mib "$m") <= $(mib "$TOTAL_B") + 8 MiB with damon_memory_unmapped_bytes present (${u:-absent})"
		[[ $PHASE == 1 ]] || continue
		les=$(q "$(last "damon_memory_idle_bytes{$(sel "$k")}")" | sed -n 's/.*le=\([^, ]*\).*/\1/p' | grep -v Inf | sort -g | uniq)
		le=$(awk -v lim="$(awk -v a="$COLD_AGE" 'BEGIN { print a / 2 }')" '$1 + 0 <= lim + 0 { x = $1 } END { print x }' <<<"$les")
		[[ -n $le ]] || continue # reported by the idle checks above
		c=$(q1 "$(last "damon_memory_idle_bytes{$(sel "$k"),le=\"+Inf\"}") - ignoring(le) $(last "damon_memory_idle_bytes{$(sel "$k"),le=\"$le\"}")")
		within "$c" "$COLD_B" 15 && pass "$k: idle > ${le}s $(mib "$c") within 15% of the cold mapped $(mib "$COLD_B") ($(pct "$c" "$COLD_B"))" ||
			failc "$k: idle > ${le}s $(mib "$c") within 15% of the cold mapped $(mib "$COLD_B") ($(pct "$c" "$COLD_B"); unmapped $(mib "$u"))"
	done
}
procs_checks
# --- end procs --------------------------------------------------------------------------------

((FAILED == 0)) || { echo "  $FAILED check(s) failed in phase $PHASE"; exit 1; }
