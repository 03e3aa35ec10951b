#!/usr/bin/env bash
# Per-cgroup and free-page checks of the real-kernel VM test (agent mode), run by tests/vm/run
# at each phase checkpoint next to assert.sh, against the same prometheus.
#
#   assert-cgroups.sh [--kernel TAG] --prom URL --phase N --workloads FILE [--pagetruth FILE] --meminfo LINE
#                     --checkpoint-uptime S --agent-ready S [--time UNIX_TS]
#                     [--tolerance PCT] [--free-tolerance PCT] [--report FILE]
#
# --workloads holds the guest's `VM-CGROUP cgroup=/cga phase=1 hot_bytes=.. total_bytes=..
# started_at=..` lines (init.sh's per-cgroup workloads: a copy of wsgen in each cgroup, its hot
# set at offset 0, the rest written once and never again); --meminfo the checkpoint's
# `VM-CGROUP-MEMINFO phase=N memfree_kb=..` line; --pagetruth the guest's `VM-PAGETRUTH` lines
# (what the kernel's regions say of each group's pages, printed beside the agent's figure). Expected values come from the workloads'
# ground truth and the guest's /proc/meminfo, never from the agent.
# Checks per cgroup (tolerance 15 %, the issue's bound): resident bytes vs the workload's
# allocation, median WSS over 30 s vs its hot set, bytes idle > 30 s vs its never-touched bytes
# once they have been cold for 45 s of monitoring; for the `system` kdamond: free bytes vs
# MemFree (tolerance 25 %: the monitored block is most but not all of RAM, and frames with no
# flag and no memcg count as free, docs/per-cgroup.md).
set -uo pipefail

PROM="" PHASE="" WORKLOADS="" PAGETRUTH="" MEMINFO="" AT="" TOL=15 FREE_TOL=25 REPORT=/dev/null KTAG="" CP_UP="" READY=""
while (($#)); do
	case $1 in
	--kernel) KTAG=$2 ;;
	--prom) PROM=$2 ;;
	--phase) PHASE=$2 ;;
	--workloads) WORKLOADS=$2 ;;
	--pagetruth) PAGETRUTH=$2 ;;
	--meminfo) MEMINFO=$2 ;;
	--checkpoint-uptime) CP_UP=$2 ;;
	--agent-ready) READY=$2 ;;
	--time) AT=$2 ;;
	--tolerance) TOL=$2 ;;
	--free-tolerance) FREE_TOL=$2 ;;
	--report) REPORT=$2 ;;
	*) echo "assert-cgroups.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift 2
done
for v in PROM:prom PHASE:phase WORKLOADS:workloads CP_UP:checkpoint-uptime READY:agent-ready; do
	var=${v%%:*}
	[[ -n ${!var} ]] || { echo "assert-cgroups.sh: missing --${v#*:}" >&2; exit 2; }
done

KDAMOND=system   # tests/vm/agent-config.yaml: the paddr kdamond with page_sampling and cgroups
WINDOW=30s
COLD_AFTER=30    # seconds: the `le` bound of the idle check (agent-config.yaml idle_buckets)

FAILED=0
pass() { printf '  PASS  %s%s\n' "${KTAG:+[$KTAG] }" "$*"; }
failc() { printf '  FAIL  %s%s\n' "${KTAG:+[$KTAG] }" "$*"; FAILED=$((FAILED + 1)); }
q1() {
	local out args=(--data-urlencode "query=$1")
	[[ -n $AT ]] && args+=(--data-urlencode "time=$AT")
	out=$(curl -fsS --max-time 20 "${args[@]}" "$PROM/api/v1/query") || { echo "assert-cgroups.sh: query failed: $1" >&2; return 0; }
	jq -r '.data.result[0].value[1] // empty' <<<"$out"
}
last() { echo "last_over_time($1[15s])"; }
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
mib() { awk -v b="$1" 'BEGIN { if (b == "") print "absent"; else printf "%.1f MiB", b / 1048576 }'; }
within() { awk -v m="$1" -v t="$2" -v p="$3" 'BEGIN { d = m - t; if (d < 0) d = -d; exit !(m != "" && t > 0 && d * 100 <= t * p) }'; }
pct() { awk -v m="$1" -v t="$2" 'BEGIN { if (m != "" && t > 0) printf "%+.1f%%", (m - t) * 100 / t; else print "n/a" }'; }

echo "  per-cgroup (kdamond $KDAMOND, page sampling), phase $PHASE:" >>"$REPORT"
n=0 idle_checked=0 wss_checked=0
while read -r line; do
	[[ -n $line ]] || continue
	n=$((n + 1))
	cg=$(kv cgroup <<<"$line"); hot=$(kv hot_bytes <<<"$line"); total=$(kv total_bytes <<<"$line"); started=$(kv started_at <<<"$line")
	cold=$((total - hot))
	s="kdamond=\"$KDAMOND\",cgroup=\"$cg\""
	res=$(q1 "$(last "damon_cgroup_memory_resident_bytes{$s}")")
	se=$(q1 "$(last "damon_cgroup_memory_resident_standard_error_bytes{$s}")")
	wss=$(q1 "quantile_over_time(0.5, damon_cgroup_memory_working_set_bytes{$s}[$WINDOW])")
	wlo=$(q1 "min_over_time(damon_cgroup_memory_working_set_bytes{$s}[$WINDOW])")
	whi=$(q1 "max_over_time(damon_cgroup_memory_working_set_bytes{$s}[$WINDOW])")
	pur=$(q1 "$(last "damon_cgroup_memory_purity_ratio{$s}")")
	idle=$(q1 "$(last "damon_cgroup_memory_idle_bytes{$s,le=\"+Inf\"}") - ignoring(le) $(last "damon_cgroup_memory_idle_bytes{$s,le=~\"$COLD_AFTER(\\\\.0)?\"}")")
	cold_age=$(awk -v a="$CP_UP" -v b="$started" -v c="$READY" 'BEGIN { s = b > c ? b : c; printf "%d", a - s }')
	# The kernel's own regions, page by page (init.sh's pagetruth): the idle figure DAMON itself
	# gives this group's never-touched pages, whatever the agent makes of it.
	truth="page truth absent" truth_b=""
	pt=$(grep -m1 "^phase=$PHASE cgroup=$cg " "$PAGETRUTH" 2>/dev/null || true)
	if [[ -n $pt ]]; then
		truth_b=$(( ($(kv cold_idle <<<"$pt") + $(kv hot_idle <<<"$pt")) * 4096 ))
		truth="kernel's regions hold $(mib $(( $(kv cold_idle <<<"$pt") * 4096 ))) of its never-touched pages idle > ${COLD_AFTER}s"
		printf '    %-5s %s (%s regions; hot pages in idle regions: %s of %s)\n' "$cg" "$truth" "$(kv regions <<<"$pt")" "$(kv hot_idle <<<"$pt")" "$(kv hot_pages <<<"$pt")" >>"$REPORT"
	fi
	printf '    %-5s resident %s (+- %s) of %s; WSS median %s %s (min %s, max %s) of hot %s; idle > %ss %s %s of cold %s (cold for %ss); purity %s\n' \
		"$cg" "$(mib "$res")" "$(mib "$se")" "$(mib "$total")" "$(mib "$wss")" "$(pct "$wss" "$hot")" "$(mib "$wlo")" "$(mib "$whi")" "$(mib "$hot")" \
		"$COLD_AFTER" "$(mib "$idle")" "$(pct "$idle" "$cold")" "$(mib "$cold")" "$cold_age" "${pur:-absent}" >>"$REPORT"
	within "$res" "$total" "$TOL" && pass "cgroup $cg resident $(mib "$res") within $TOL% of its $(mib "$total") ($(pct "$res" "$total"))" ||
		failc "cgroup $cg resident $(mib "$res") within $TOL% of its $(mib "$total") ($(pct "$res" "$total"))"
	# WSS and idle are region-level: trusted (and checked) only where the group's pages do not
	# share regions with other groups' (purity >= 0.9, what the metric's docs say).
	pure=0; awk -v p="${pur:-0}" 'BEGIN { exit !(p >= 0.9) }' && pure=1
	if ((pure)); then
		wss_checked=$((wss_checked + 1))
		within "$wss" "$hot" "$TOL" && pass "cgroup $cg WSS median $(mib "$wss") within $TOL% of its hot set $(mib "$hot") ($(pct "$wss" "$hot"); purity ${pur:-absent})" ||
			failc "cgroup $cg WSS median $(mib "$wss") within $TOL% of its hot set $(mib "$hot") ($(pct "$wss" "$hot"); min $(mib "$wlo"), max $(mib "$whi"); purity ${pur:-absent})"
	else
		echo "  NOTE  ${KTAG:+[$KTAG] }cgroup $cg WSS median $(mib "$wss") of hot set $(mib "$hot") ($(pct "$wss" "$hot")) not checked: purity ${pur:-absent} < 0.9 (interleaved with other cgroups' pages)"
	fi
	# paddr regions start out mixing a cgroup's hot and cold pages (the buddy allocator
	# interleaves them) and need several splits to separate them: measured 6.12 and 7.3, idle
	# > 30 s read -55..-100 % after 51 s of cold, +0.7..+1.4 % after 93 s. So the check waits for
	# 2.5x the threshold; phase 1 only reports, phase 2 must check.
	if ((cold_age >= COLD_AFTER * 5 / 2)) && ((!pure)); then
		# A region's age covers all its pages: where this cgroup's cold pages share regions with
		# other cgroups' hot ones (low purity) paddr cannot age them apart. The metric's own
		# docs say so; measured on 7.3: 0.0 of 64 MiB at purity 0.50.
		echo "  NOTE  ${KTAG:+[$KTAG] }cgroup $cg bytes idle > ${COLD_AFTER}s $(mib "$idle") of never-touched $(mib "$cold") not checked: purity ${pur:-absent} < 0.9 (interleaved with other cgroups' pages)"
		echo "    $cg idle > ${COLD_AFTER}s not checked: purity ${pur:-absent} < 0.9" >>"$REPORT"
	elif ((cold_age >= COLD_AFTER * 5 / 2)); then
		# On 6.18+ a region whose sampled accesses go from zero to non-zero restarts its age, so
		# the boundary region between a group's hot and cold pages reads young as long as it holds
		# a few hot pages; per-cgroup idle is short by up to a region per boundary on those
		# kernels (docs/per-cgroup.md). agent-config.yaml sizes `system`'s regions for this.
		idle_checked=$((idle_checked + 1))
		within "$idle" "$cold" "$TOL" && pass "cgroup $cg bytes idle > ${COLD_AFTER}s $(mib "$idle") within $TOL% of its never-touched $(mib "$cold") ($(pct "$idle" "$cold"), cold for ${cold_age}s; purity $pur; $truth)" ||
			failc "cgroup $cg bytes idle > ${COLD_AFTER}s $(mib "$idle") within $TOL% of its never-touched $(mib "$cold") ($(pct "$idle" "$cold"), cold for ${cold_age}s; purity $pur; $truth)"
		# The agent against the kernel itself: its sampled attribution of the same regions must
		# give what the pages give (the workload's pages in idle regions; the rest of the group,
		# its binary and stack, is under 1 MiB). Regions may change between the agent's last
		# collection and the guest's read: 10 %.
		if [[ -n $truth_b ]]; then
			within "$idle" "$truth_b" 10 && pass "cgroup $cg bytes idle > ${COLD_AFTER}s $(mib "$idle") within 10% of what the kernel's regions give its pages, $(mib "$truth_b") ($(pct "$idle" "$truth_b"))" ||
				failc "cgroup $cg bytes idle > ${COLD_AFTER}s $(mib "$idle") within 10% of what the kernel's regions give its pages, $(mib "$truth_b") ($(pct "$idle" "$truth_b"))"
		else
			failc "cgroup $cg: no page truth from the guest (VM-PAGETRUTH phase=$PHASE cgroup=$cg)"
		fi
	elif [[ $PHASE == 1 ]]; then
		echo "    $cg idle > ${COLD_AFTER}s not checked yet: cold for ${cold_age}s < $((COLD_AFTER * 5 / 2))s (paddr regions still converging)" >>"$REPORT"
	else
		failc "cgroup $cg idle check: its cold bytes were monitored for ${cold_age}s only, want >= $((COLD_AFTER * 5 / 2))s (the guest's schedule is too short)"
	fi
done <"$WORKLOADS"
((n > 0)) || failc "per-cgroup workloads: no VM-CGROUP line from the guest"
# Interleaving depends on where the guest's allocator put each group (7.3 runs: purity 0.13-0.50
# for both groups in one of three): then only resident bytes and free pages are checkable.
((wss_checked > 0)) || echo "  NOTE  ${KTAG:+[$KTAG] }per-cgroup WSS and idle: no group with purity >= 0.9 in phase $PHASE, none checked (resident bytes and free pages were)"
[[ $PHASE == 1 ]] || ((idle_checked > 0)) || echo "    per-cgroup idle: not checked in phase $PHASE (no group with purity >= 0.9)" >>"$REPORT"

sel=$(q1 "$(last "damon_cgroups_selected{kdamond=\"$KDAMOND\"}")")
[[ $sel == "$n" ]] && pass "damon_cgroups_selected = $n" || failc "damon_cgroups_selected = ${sel:-absent}, want $n"

memfree=$(( $(kv memfree_kb <<<"$MEMINFO") * 1024 ))
free=$(q1 "$(last "damon_memory_free_bytes{kdamond=\"$KDAMOND\"}")")
mon=$(q1 "$(last "damon_memory_monitored_bytes{kdamond=\"$KDAMOND\"}")")
printf '    free pages: %s (MemFree %s, %s); monitored bytes in use %s\n' "$(mib "$free")" "$(mib "$memfree")" "$(pct "$free" "$memfree")" "$(mib "$mon")" >>"$REPORT"
within "$free" "$memfree" "$FREE_TOL" && pass "$KDAMOND free bytes $(mib "$free") within $FREE_TOL% of MemFree $(mib "$memfree") ($(pct "$free" "$memfree"))" ||
	failc "$KDAMOND free bytes $(mib "$free") within $FREE_TOL% of MemFree $(mib "$memfree") ($(pct "$free" "$memfree"))"

# The page-sampling pass's wall time (a figure for the report, not a check: wall time under TCG).
ps="source=\"pages/$KDAMOND\""
dur=$(q1 "increase(damon_otel_collection_duration_seconds_sum{$ps}[$WINDOW]) / increase(damon_otel_collection_duration_seconds_count{$ps}[$WINDOW])")
npass=$(q1 "increase(damon_otel_collection_duration_seconds_count{$ps}[$WINDOW])")
printf '    page-sampling passes over %s: %s, mean wall time %s s\n' "$WINDOW" "${npass:-absent}" "${dur:-absent}" >>"$REPORT"

((FAILED == 0))
