#!/usr/bin/env bash
# Checks of the agent next to the kernel's exclusive DAMON users (tests/vm/run, agent mode; facts
# in docs/kernel-7x.md). Three steps, each from what the guest printed (--console, the serial log
# without CRs) and, for zero-config, Debian's prometheus scraping the agent:
#
#   assert-modules.sh zero     --kernel TAG --console FILE --prom URL --time UNIX_TS [--report FILE]
#       DAMON_STAT as shipped, agent without kdamonds: DAMON_STAT's regions exported from its
#       tracepoint (the whole System RAM span), its exported idle percentiles agree with the
#       ones it publishes (memory_idle_ms_percentiles), and the agent wrote nothing to DAMON.
#   assert-modules.sh failfast --kernel TAG --console FILE [--report FILE]
#       configured kdamonds without kernel_modules.take_over: one message within a second
#       naming the module and both remedies, no `on` retried, /readyz says why, nothing written.
#   assert-modules.sh sigterm  --kernel TAG --console FILE [--report FILE]
#       after the agent's SIGTERM: it exited 0, its kdamonds are off, and a module it took over
#       is enabled again with a new kdamond (every kernel; the module part where one ran at boot).
#
# Expected values come from the guest's own readings (sysfs, /proc/iomem, a kprobe on kernfs
# writes), never from the agent. Exit 0 when every check passes.
set -uo pipefail

STEP=${1:-}
shift || true
KTAG="" CONSOLE="" PROM="" AT="" REPORT=/dev/null
while (($#)); do
	case $1 in
	--kernel) KTAG=$2 ;;
	--console) CONSOLE=$2 ;;
	--prom) PROM=$2 ;;
	--time) AT=$2 ;;
	--report) REPORT=$2 ;;
	*) echo "assert-modules.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift 2
done
[[ -n $CONSOLE && -f $CONSOLE ]] || { echo "assert-modules.sh: --console FILE is required" >&2; exit 2; }

# Agreement of DAMON_STAT's exported idle percentiles (from its regions, the latest finished
# aggregation) with the ones it publishes. The kernel refreshes them every 5 s in a callback that
# runs in the middle of an aggregation interval (docs/kernel-7x.md): the ages are those of the
# last finished aggregation, the sign (accessed or not) comes from the running one's partial
# counts. At one scrape the two views are therefore apart by up to the refresh plus one
# collection (LAG_S: 5 s + 2 s) plus two aggregation intervals W (ages advance by W per window),
# and idle time grows meanwhile: allowed LAG_S + 2 W + 10 % of the value. A young region (idle
# within that allowance) may also carry the opposite sign, its size of age agreeing: the
# partial count says "accessed" where the finished window said "not" (or the reverse). W is the
# module's aggregation interval, the larger of its readings at the phase's start and end (the
# kernel tunes it).
LAG_S=7
REL_PCT=10
QUANTILES=(0.01 0.1 0.25 0.5 0.75 0.9)

FAILED=0
pass() { printf '  PASS  %s%s\n' "${KTAG:+[$KTAG] }" "$*"; }
failc() { printf '  FAIL  %s%s\n' "${KTAG:+[$KTAG] }" "$*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else failc "$what"; fi; }
kv() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p; s/^$1=\([^[:space:]]*\).*/\1/p" | head -1; }
line() { grep -m1 "^$1" "$CONSOLE" || true; }
q() {
	local out args=(--data-urlencode "query=$1")
	[[ -n $AT ]] && args+=(--data-urlencode "time=$AT")
	out=$(curl -fsS --max-time 20 "${args[@]}" "$PROM/api/v1/query") || return 0
	jq -r '.data.result[] | .value[1]' <<<"$out" | head -1
}
# Values of a query at every 5 s over the 25 s up to --time, one per line ("" where absent).
series() {
	local end=${AT:-$(date +%s)}
	curl -fsS --max-time 20 --data-urlencode "query=$1" --data-urlencode "start=$(awk -v t="$end" 'BEGIN { printf "%.3f", t - 25 }')" \
		--data-urlencode "end=$end" --data-urlencode step=5 "$PROM/api/v1/query_range" |
		jq -r '.data.result[0].values[]? | "\(.[0]) \(.[1])"' 2>/dev/null
}

zero() {
	local cp boot mod span v n
	cp=$(line VM-ZERO-CHECKPOINT)
	[[ -n $cp ]] || { failc "the guest reached the zero-config checkpoint"; return; }
	mod=$(kv module <<<"$cp"); boot=$(kv boot_pid <<<"$cp")
	echo "zero-config next to $mod (kdamond pid $boot at boot)" >>"$REPORT"
	check "zero-config: $mod still enabled with its boot kdamond ($(kv enabled <<<"$cp"), pid $(kv kdamond_pid <<<"$cp") vs $boot)" \
		test "$(kv enabled <<<"$cp")" = Y -a "$(kv kdamond_pid <<<"$cp")" = "$boot"
	check "zero-config: no sysfs kdamond created (nr_kdamonds $(kv nr_kdamonds <<<"$cp"))" test "$(kv nr_kdamonds <<<"$cp")" = 0
	n=$(kv writes <<<"$cp")
	if [[ $n == -1 ]]; then
		failc "zero-config: kernfs writes could not be watched (no kprobe events in this kernel)"
	else
		check "zero-config: the agent wrote nothing to sysfs (kprobe on kernfs_fop_write_iter: $n writes by its process)" test "$n" = 0
	fi
	[[ $mod == damon_stat ]] || return   # the rest is DAMON_STAT's distribution

	span=$(( 0x$(kv iomem_last <<<"$cp") + 1 - 0x$(kv iomem_first <<<"$cp") ))
	v=$(q 'last_over_time(damon_kdamond_up{kdamond="damon_stat"}[15s])')
	check "zero-config: damon_kdamond_up{kdamond=damon_stat} = 1 (${v:-absent})" test "${v:-0}" = 1
	v=$(q 'last_over_time(damon_memory_monitored_bytes{kdamond="damon_stat",target="system"}[15s])')
	printf '  damon_stat monitored %s bytes (System RAM span %s), regions %s\n' "${v:-absent}" "$span" \
		"$(q 'last_over_time(damon_region_count{kdamond="damon_stat",target="system"}[15s])')" >>"$REPORT"
	check "zero-config: DAMON_STAT's regions come from its tracepoint: monitored bytes ${v:-absent} = the System RAM span $span, holes included" \
		test "${v:-0}" = "$span"
	for s in module/damon_stat tracepoint; do
		v=$(q "last_over_time(damon_otel_source_up{source=\"$s\"}[15s])")
		check "zero-config: source $s up (${v:-absent})" test "${v:-0}" = 1
	done
	v=$(q 'sum(increase(damon_otel_collection_errors_total[25s])) or vector(0)')
	check "zero-config: no collection errors over 25 s (${v:-absent})" awk -v v="$v" 'BEGIN { exit !(v != "" && v + 0 == 0) }'
	v=$(q 'last_over_time(damon_stat_memory_bandwidth_bytes_per_second[15s])')
	check "zero-config: DAMON_STAT's published bandwidth exported (${v:-absent} B/s)" awk -v v="$v" 'BEGIN { exit !(v != "" && v + 0 > 0) }'

	local quant ours theirs worst worst_rel pairs w allow
	w=$(awk -v a="$(line VM-ZERO-START | kv aggr_us)" -v b="$(kv aggr_us <<<"$cp")" 'BEGIN { m = (a + 0 > b + 0) ? a : b; printf "%.3f", (m > 0) ? m / 1e6 : 0 }')
	check "zero-config: $mod's aggregation interval read in the guest (${w} s)" awk -v w="$w" 'BEGIN { exit !(w + 0 > 0) }'
	allow=$(awk -v l="$LAG_S" -v w="$w" 'BEGIN { printf "%.3f", l + 2 * w }')
	for quant in "${QUANTILES[@]}"; do
		# Pairs of (exported, published) at the same scrapes over 25 s.
		pairs=$(join <(series "damon_memory_idle_time_signed_seconds{kdamond=\"damon_stat\",target=\"system\",quantile=\"$quant\"}") \
			<(series "damon_stat_memory_idle_time_seconds{quantile=\"$quant\"}"))
		n=$(grep -c . <<<"$pairs" || true)
		read -r worst worst_rel ours theirs < <(awk -v lag="$LAG_S" '
			{ d = $2 - $3; if (d < 0) d = -d; a = $3 < 0 ? -$3 : $3; r = a > 0 ? d * 100 / a : 0
			  if (d > w) { w = d; wr = r; o = $2; t = $3 } }
			END { printf "%.3f %.1f %s %s\n", w + 0, wr + 0, (o == "" ? "-" : o), (t == "" ? "-" : t) }' <<<"$pairs")
		printf '  damon_stat idle p%s: %s scrapes, largest |exported - published| %s s (exported %s s vs published %s s, %s%%)\n' \
			"$(awk -v q="$quant" 'BEGIN { print q * 100 }')" "$n" "$worst" "$ours" "$theirs" "$worst_rel" >>"$REPORT"
		check "zero-config: DAMON_STAT idle p$(awk -v q="$quant" 'BEGIN { print q * 100 }') exported from its regions agrees with its published value (or the next one) in all $n scrapes of 25 s (largest difference ${worst} s: ${ours} s vs ${theirs} s; allowed ${allow} s + ${REL_PCT}%, opposite signs only within ${allow} s of idle)" \
			awk -v n="$n" -v allow="$allow" -v rel="$REL_PCT" '
				function abs(x) { return x < 0 ? -x : x }
				BEGIN { bad = 0 }
				function agrees(e, p,   tol, ok) {
					tol = allow + abs(p) * rel / 100
					ok = abs(e - p) <= tol
					# a young region whose sign the running window flipped: same age, opposite sign
					if (!ok && e * p < 0 && abs(p) <= tol && abs(abs(e) - abs(p)) <= tol) ok = 1
					return ok
				}
				{ e[NR] = $2; p[NR] = $3 }
				# On 6.18+ an age also restarts when a region'"'"'s access count goes between zero and
				# non-zero, so a value may jump towards 0 inside the lag: then the next published
				# set (5 s later) shows the restart the exported value already has.
				END { bad = 0
				      for (i = 1; i <= NR; i++) if (!agrees(e[i], p[i]) && !(i < NR && agrees(e[i], p[i + 1]))) bad++
				      exit !(n >= 3 && bad == 0) }' <<<"$pairs"
	done
}

failfast() {
	local f msg rl ml t_reload t_msg dt body
	f=$(line VM-FAILFAST)
	[[ -n $f ]] || { failc "the guest reached the fail-fast check"; return; }
	msg=$(line VM-FAILFAST-LOG | sed 's/^VM-FAILFAST-LOG //')
	rl=$(line VM-FAILFAST-RELOAD-LOG | sed 's/^VM-FAILFAST-RELOAD-LOG //')
	# The agent's own timestamps (ts=yyyy-MM-ddTHH:mm:ss.fffZ, or at the line's start in the
	# console log format): from "the set of kdamonds changes" to the message.
	t_reload=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' <<<"$rl" | head -1)
	t_msg=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' <<<"$msg" | head -1)
	dt=""
	[[ -n $t_reload && -n $t_msg ]] && dt=$(awk -v a="$(date -u -d "${t_reload%Z}" +%s.%N 2>/dev/null)" -v b="$(date -u -d "${t_msg%Z}" +%s.%N 2>/dev/null)" 'BEGIN { if (a != "" && b != "") printf "%.3f", b - a }')
	{
		echo "fail-fast without kernel_modules.take_over:"
		echo "  reload to message ${dt:-?} s by the agent's log (HUP to message in the guest: $(kv seconds <<<"$f") s)"
		echo "  message: ${msg#*: }"
	} >>"$REPORT"
	check "fail-fast: decided within a second of the reload by the agent's own clock (${dt:-no timestamps} s)" \
		awk -v d="$dt" 'BEGIN { exit !(d != "" && d + 0 >= 0 && d + 0 <= 1) }'
	check "fail-fast: the message came in the guest $(kv seconds <<<"$f") s after SIGHUP (bound 30 s; an EBUSY loop takes 20 s per kdamond)" \
		awk -v s="$(kv seconds <<<"$f")" 'BEGIN { exit !(s != "" && s + 0 <= 30) }'
	check "fail-fast: exactly one message ($(kv messages <<<"$f")), no source-failure log repeating it ($(kv source_failed_logs <<<"$f"))" \
		test "$(kv messages <<<"$f")" = 1 -a "$(kv source_failed_logs <<<"$f")" = 0
	check "fail-fast: no 'on' attempted or retried ($(kv on_attempts <<<"$f") state command errors)" test "$(kv on_attempts <<<"$f")" = 0
	check "fail-fast: the message names DAMON_STAT and its kdamond" grep -qE 'DAMON_STAT \(kdamond pid [0-9]+\) is running and holds DAMON exclusively' <<<"$msg"
	check "fail-fast: the message gives the boot parameter damon_stat.enabled=N" grep -qF 'damon_stat.enabled=N' <<<"$msg"
	check "fail-fast: the message gives the config key kernel_modules.take_over" grep -qF "kernel_modules: {take_over: [damon_stat]}" <<<"$msg"
	body=$(sed -n '/^VM-READYZ-BEGIN/,/^VM-READYZ-END/p' "$CONSOLE")
	check "fail-fast: /readyz answers 503 ($(grep -m1 '^HTTP/' <<<"$body"))" grep -qE '^HTTP/1\.[01] 503' <<<"$body"
	configured=$(grep -c '^  - name:' "$(dirname "${BASH_SOURCE[0]}")/agent-config.yaml")
	check "fail-fast: /readyz says why for each configured kdamond ($(grep -c 'is running and holds DAMON exclusively' <<<"$body") of $configured lines)" \
		test "$(grep -c '^kdamond/.*DAMON_STAT (kdamond pid [0-9]*) is running and holds DAMON exclusively' <<<"$body")" = "$configured"
	check "fail-fast: DAMON_STAT untouched (enabled $(kv enabled <<<"$f"), kdamond pid $(kv kdamond_pid <<<"$f"), nr_kdamonds $(kv nr_kdamonds <<<"$f"))" \
		test "$(kv enabled <<<"$f")" = Y -a "$(kv kdamond_pid <<<"$f")" = "$(line VM-ZERO-CHECKPOINT | kv boot_pid)" -a "$(kv nr_kdamonds <<<"$f")" = 0
	check "fail-fast: the agent wrote nothing to sysfs since it started ($(kv writes <<<"$f") kernfs writes)" test "$(kv writes <<<"$f")" = 0
}

sigterm() {
	local e boot end k
	e=$(line VM-AGENT-EXIT)
	echo "after SIGTERM: $(sed 's/^VM-AGENT-EXIT //' <<<"$e")" >>"$REPORT"
	check "SIGTERM: the agent exited with 0 ($(kv rc <<<"$e") after $(kv seconds <<<"$e") s)" test "$(kv rc <<<"$e")" = 0
	k=$(grep '^VM-KDAMOND-END ' "$CONSOLE" | grep -vc 'state=off$' || true)
	check "SIGTERM: every kdamond is off ($(grep '^VM-KDAMOND-END ' "$CONSOLE" | sed 's/.*kdamond=\([0-9]*\) state=\(.*\)/\1:\2/' | tr '\n' ' '))" \
		test "$(grep -c '^VM-KDAMOND-END ' "$CONSOLE")" -ge 3 -a "$k" = 0
	boot=$(grep '^VM-KMOD name=' "$CONSOLE" | grep 'enabled=Y' | head -1 || true)
	[[ -n $boot ]] || return 0   # no exclusive module ran at boot (6.12): nothing was taken over
	local m pid0
	m=$(kv name <<<"$boot"); pid0=$(kv kdamond_pid <<<"$boot")
	end=$(grep "^VM-KMOD-END name=$m " "$CONSOLE" | head -1 || true)
	echo "  $m at boot: enabled=Y kdamond_pid=$pid0; after SIGTERM: $(sed 's/^VM-KMOD-END //; s/ uptime=.*//' <<<"$end")" >>"$REPORT"
	check "SIGTERM: $m enabled again ($(kv enabled <<<"$end"))" test "$(kv enabled <<<"$end")" = Y
	check "SIGTERM: $m runs a new kdamond (pid $(kv kdamond_pid <<<"$end"), at boot $pid0)" \
		awk -v a="$(kv kdamond_pid <<<"$end")" -v b="$pid0" 'BEGIN { exit !(a + 0 > 0 && a != b) }'
}

case $STEP in
zero) [[ -n $PROM ]] || { echo "assert-modules.sh zero: --prom URL is required" >&2; exit 2; }; zero ;;
failfast) failfast ;;
sigterm) sigterm ;;
*) echo "assert-modules.sh: step must be zero, failfast or sigterm" >&2; exit 2 ;;
esac
((FAILED == 0)) || { echo "  $FAILED check(s) failed ($STEP)"; exit 1; }
