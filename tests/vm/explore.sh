# Explore mode of the real-kernel VM (sourced by init.sh when vm_mode=explore; busybox ash).
# Gathers facts about the guest kernel's DAMON and prints each as a block
#   VM-FACT-BEGIN name=<file> ... VM-FACT-END name=<file>
# which tests/vm/run saves as <facts dir>/<kernel version>/<file>. No checks: what the kernel
# answers is the result. Unlike agent mode, this mode switches DAMON_STAT off and on again:
# that behaviour is one of the facts (docs/kernel-7x.md).
#
# Uses from init.sh: w, die, uptime_s, status_field, kdamond_threads, kmod_report, $WSGEN.
# sysio (tests/vm/workload/sysio.c) does the timed reads/writes that report errno names.

A=/sys/kernel/mm/damon/admin
D=$A/kdamonds
TR=/sys/kernel/tracing
MS=/sys/module/damon_stat/parameters
ULMAX=18446744073709551615
UIMAX=4294967295

fb() { echo "VM-FACT-BEGIN name=$1"; }
fe() { echo "VM-FACT-END name=$1"; }
# io LABEL sysio-args...: one timed operation, "LABEL: <result>".
io() {
	local label=$1
	shift
	echo "$label: $(sysio "$@")"
}
# s FILE VALUE: a soft write (a missing file on an older kernel is a fact, not an error).
s() {
	local r
	r=$(sysio w "$1" "$2") || echo "write '$2' > ${1#$D/} failed: $r"
}
# Every file under $1 as path=value (multi-line values joined with \n), sorted.
dump_values() {
	find "$1" -type f | sort | while read -r f; do
		printf '%s=%s\n' "$f" "$(awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }' "$f" 2>&1)"
	done
}
dump_modes() { find "$1" | sort | while read -r f; do stat -c '%A %n' "$f"; done; }
params() { # $1 = module: every parameter as name=value, then whether kdamond_pid exists
	local P=/sys/module/$1/parameters f
	if [ ! -d $P ]; then echo "$1: not built into this kernel"; return; fi
	for f in $P/*; do echo "$1.${f##*/}=$(cat $f 2>&1)"; done
	[ -f $P/kdamond_pid ] && echo "$1: kdamond_pid parameter present" || echo "$1: kdamond_pid parameter ABSENT"
}
threads() { # $1 = label: the kdamond threads now
	echo "$1 kdamond threads (pid comm): $(kdamond_threads | tr '\n' ';')"
}
stat_enabled() { cat $MS/enabled 2>/dev/null; }
has_stat() { [ -d $MS ]; }
# Event name of a trace_pipe line: the field after the "<seconds>.<micros>:" timestamp.
ev_name() { awk '{ for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(/:$/, "", $(i + 1)); print $(i + 1); break } }'; }
# "<count> <task-pid> <event>" per task and event of a capture.
ev_by_task() { awk '{ for (i = 1; i < NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(/:$/, "", $(i + 1)); print $1, $(i + 1); break } }' | sort | uniq -c | tr '\n' ';'; }

# ---------------------------------------------------------------------------------------------
fb kernel.txt
echo "uname -r: $(uname -r)"
echo "version: $(cat /proc/version)"
echo "cmdline: $(cat /proc/cmdline)"
echo "cpus: $(grep -c ^processor /proc/cpuinfo)  $(grep MemTotal /proc/meminfo)"
echo "tracefs events/damon: $(ls $TR/events/damon 2>/dev/null | tr '\n' ' ')"
fe kernel.txt

fb modules-boot.txt
echo "# /sys/module/damon_* at boot (uptime $(uptime_s)), as shipped"
for m in damon_stat damon_reclaim damon_lru_sort; do
	params $m
	[ -d /sys/module/$m ] && echo "$m dir: $(ls /sys/module/$m | tr '\n' ' ')"
	[ -d /sys/module/$m/parameters ] && echo "$m modes: $(ls -l /sys/module/$m/parameters | awk 'NR > 0 { printf "%s %s; ", $1, $NF }')"
done
threads "boot:"
for t in $(kdamond_threads | awk '{ print $1 }'); do
	echo "thread $t: comm=$(cat /proc/$t/comm) $(grep -E '^(Name|PPid|Kthread|Cpus_allowed_list):' /proc/$t/status | tr '\n\t' '  ')"
	echo "thread $t stat: $(cat /proc/$t/stat)"
	echo "thread $t cmdline: '$(tr '\0' ' ' < /proc/$t/cmdline)'"
done
echo "nr_kdamonds (sysfs) at boot: $(cat $D/nr_kdamonds)"
echo "sysfs admin tree at boot: $(find $A | tr '\n' ' ')"
fe modules-boot.txt

# ---------------------------------------------------------------------------------------------
# Defaults of a fresh tree: one of everything (every nr_* file set to 1), nothing started.
s $D/nr_kdamonds 1
s $D/0/contexts/nr_contexts 1
C=$D/0/contexts/0
s $C/targets/nr_targets 1
s $C/targets/0/regions/nr_regions 1
s $C/monitoring_attrs/probes/nr_probes 1
s $C/monitoring_attrs/probes/0/filters/nr_filters 1
s $C/schemes/nr_schemes 1
for f in filters core_filters ops_filters; do s $C/schemes/0/$f/nr_filters 1; done
s $C/schemes/0/quotas/goals/nr_goals 1
s $C/schemes/0/dests/nr_dests 1
fb sysfs-defaults.txt
echo "# a fresh kdamond with one of every directory (nr_* = 1), state off; path=value"
dump_values $A
fe sysfs-defaults.txt
fb sysfs-defaults-modes.txt
dump_modes $A
fe sysfs-defaults-modes.txt
fb probes-avail.txt
# Keyword files: what each accepts (writing an unknown keyword answers EINVAL).
echo "avail_operations: $(cat $C/avail_operations 2>&1 | tr '\n' ' ')"
for t in anon active memcg young hugepage_size unmapped addr target; do
	echo "ops_filters type=$t: $(sysio w $C/schemes/0/ops_filters/0/type $t)"
	echo "core_filters type=$t: $(sysio w $C/schemes/0/core_filters/0/type $t)"
done
for a in willneed cold pageout hugepage nohugepage lru_prio lru_deprio migrate_hot migrate_cold stat collapse; do
	echo "action=$a: $(sysio w $C/schemes/0/action $a)"
done
for m in user_input some_mem_psi_us node_mem_used_bp node_mem_free_bp node_memcg_used_bp node_memcg_free_bp active_mem_bp inactive_mem_bp node_eligible_mem_bp; do
	echo "goal target_metric=$m: $(sysio w $C/schemes/0/quotas/goals/0/target_metric $m)"
done
for g in consist temporal; do echo "goal_tuner=$g: $(sysio w $C/schemes/0/quotas/goal_tuner $g)"; done
for m in none free_mem_rate; do echo "watermarks metric=$m: $(sysio w $C/schemes/0/watermarks/metric $m)"; done
if [ -d $C/monitoring_attrs/probes/0 ]; then
	echo "probes/0: $(find $C/monitoring_attrs/probes/0 | tr '\n' ' ')"
	for t in anon active memcg young hugepage_size unmapped; do
		echo "probe filter type=$t: $(sysio w $C/monitoring_attrs/probes/0/filters/0/type $t)"
	done
fi
fe probes-avail.txt
s $D/nr_kdamonds 0

# ---------------------------------------------------------------------------------------------
# The configuration the running-tree dump and the EBUSY experiments use: kdamond 0 vaddr on
# wsgen, kdamond 1 paddr over the largest System RAM block; each with a match-everything stat
# scheme and a pageout scheme with quotas, a quota goal, watermarks, core and ops filters and
# a destination. The pageout schemes cannot page anything out (the guest has no swap, and their
# ops filter rejects anonymous pages).
match_everything() { # $1 = scheme dir
	s $1/action stat
	s $1/access_pattern/sz/max $ULMAX
	s $1/access_pattern/nr_accesses/max $UIMAX
	s $1/access_pattern/age/max $UIMAX
}
pageout_scheme() { # $1 = scheme dir, $2 = goal metric, $3 = goal target value
	local S=$1
	s $S/action pageout
	s $S/access_pattern/sz/min 4096
	s $S/access_pattern/sz/max $ULMAX
	s $S/access_pattern/nr_accesses/max 0
	s $S/access_pattern/age/min 10
	s $S/access_pattern/age/max $UIMAX
	s $S/quotas/goals/nr_goals 1
	s $S/quotas/goals/0/target_metric "$2"
	s $S/quotas/goals/0/target_value "$3"
	s $S/quotas/goals/0/current_value 5000
	s $S/quotas/ms 100
	s $S/quotas/bytes $((64 << 20))
	s $S/quotas/reset_interval_ms 1000
	s $S/quotas/weights/sz_permil 0
	s $S/quotas/weights/nr_accesses_permil 0
	s $S/quotas/weights/age_permil 1000
	s $S/watermarks/metric free_mem_rate
	s $S/watermarks/interval_us 1000000
	s $S/watermarks/high 950
	s $S/watermarks/mid 900
	s $S/watermarks/low 10
	s $S/ops_filters/nr_filters 1
	s $S/ops_filters/0/type anon
	s $S/ops_filters/0/matching Y
	s $S/ops_filters/0/allow N
	s $S/dests/nr_dests 1
	s $S/dests/0/id 0
	s $S/dests/0/weight 100
}
configure() {
	s $D/nr_kdamonds 2
	local C0=$D/0/contexts/0 C1=$D/1/contexts/0
	s $D/0/contexts/nr_contexts 1
	s $C0/operations vaddr
	s $C0/targets/nr_targets 1
	s $C0/targets/0/pid_target $WSGEN
	s $C0/monitoring_attrs/nr_regions/max 100
	s $C0/monitoring_attrs/intervals/aggr_us 1000000
	s $C0/monitoring_attrs/intervals/sample_us 20000
	s $C0/monitoring_attrs/intervals/update_us 1000000
	# Intervals auto-tuning (6.15+), so update_tuned_intervals and the tune event have work.
	s $C0/monitoring_attrs/intervals/intervals_goal/access_bp 400
	s $C0/monitoring_attrs/intervals/intervals_goal/aggrs 3
	s $C0/monitoring_attrs/intervals/intervals_goal/min_sample_us 5000
	s $C0/monitoring_attrs/intervals/intervals_goal/max_sample_us 100000
	s $C0/schemes/nr_schemes 2
	match_everything $C0/schemes/0
	pageout_scheme $C0/schemes/1 user_input 10000
	s $C0/schemes/1/core_filters/nr_filters 1
	s $C0/schemes/1/core_filters/0/type addr
	s $C0/schemes/1/core_filters/0/addr_start 0
	s $C0/schemes/1/core_filters/0/addr_end 140737488355328
	s $C0/schemes/1/core_filters/0/matching Y
	s $C0/schemes/1/core_filters/0/allow Y
	# Before 6.15 there is only filters/ (what core_filters/ops_filters split).
	[ -d $C0/schemes/1/core_filters ] || { s $C0/schemes/1/filters/nr_filters 1; s $C0/schemes/1/filters/0/type anon; s $C0/schemes/1/filters/0/matching Y; }

	s $D/1/contexts/nr_contexts 1
	s $C1/operations paddr
	s $C1/monitoring_attrs/nr_regions/max 100
	s $C1/monitoring_attrs/intervals/aggr_us 1000000
	s $C1/monitoring_attrs/intervals/sample_us 50000
	set -- $(awk -F'[- :]+' '/System RAM/ { print $1, $2 }' /proc/iomem | while read st en; do
		echo "$(( 0x$en + 1 - 0x$st )) $(( 0x$st )) $(( 0x$en + 1 ))"; done | sort -n | tail -1)
	RAM_START=$2 RAM_END=$3
	s $C1/targets/nr_targets 1
	s $C1/targets/0/regions/nr_regions 1
	s $C1/targets/0/regions/0/end $RAM_END
	s $C1/targets/0/regions/0/start $RAM_START
	s $C1/schemes/nr_schemes 2
	match_everything $C1/schemes/0
	pageout_scheme $C1/schemes/1 some_mem_psi_us 1000
	s $C1/schemes/1/core_filters/nr_filters 1
	s $C1/schemes/1/core_filters/0/type addr
	s $C1/schemes/1/core_filters/0/addr_start $RAM_START
	s $C1/schemes/1/core_filters/0/addr_end $RAM_END
	s $C1/schemes/1/core_filters/0/matching Y
	s $C1/schemes/1/core_filters/0/allow Y
	s $C1/schemes/1/ops_filters/nr_filters 2
	s $C1/schemes/1/ops_filters/0/type anon
	s $C1/schemes/1/ops_filters/0/matching Y
	s $C1/schemes/1/ops_filters/0/allow N
	s $C1/schemes/1/ops_filters/1/type hugepage_size
	s $C1/schemes/1/ops_filters/1/min 2097152
	s $C1/schemes/1/ops_filters/1/max 2097152
	s $C1/schemes/1/ops_filters/1/matching Y
	s $C1/schemes/1/ops_filters/1/allow N
	[ -d $C1/schemes/1/core_filters ] || { s $C1/schemes/1/filters/nr_filters 1; s $C1/schemes/1/filters/0/type anon; s $C1/schemes/1/filters/0/matching Y; }
	echo "configured: kdamond 0 vaddr pid $WSGEN, kdamond 1 paddr $RAM_START-$RAM_END"
}

# ---------------------------------------------------------------------------------------------
fb damon-stat-exclusive.txt
echo "# sysfs kdamonds while the modules are as shipped ($(kmod_report now | tr '\n' ';'))"
configure
for k in 0 1; do
	io "kdamond $k read state" r $D/$k/state
	io "kdamond $k read pid" r $D/$k/pid
done
for i in 1 2 3; do io "kdamond 0 write on #$i" w $D/0/state on; done
io "kdamond 1 write on" w $D/1/state on
for c in commit update_schemes_stats update_schemes_tried_regions update_schemes_tried_bytes clear_schemes_tried_regions update_schemes_effective_quotas update_tuned_intervals commit_schemes_quota_goals off; do
	io "kdamond 0 write $c" w $D/0/state $c
done
for k in 0 1; do
	io "kdamond $k read state after" r $D/$k/state
	io "kdamond $k read pid after" r $D/$k/pid
done
echo "kdamond 0 reads of state for 2 s: $(sysio rloop $D/0/state 2 1000)"
echo "kdamond 0 writes of 'on' for 2 s: $(sysio wloop $D/0/state on 2 1000)"
echo "kdamond 0 write nr_kdamonds 2 again: $(sysio w $D/nr_kdamonds 2)"
echo "nr_kdamonds=$(cat $D/nr_kdamonds): the module's kdamond has no sysfs directory"
threads "now:"
fe damon-stat-exclusive.txt
configure >/dev/null

# ---------------------------------------------------------------------------------------------
if has_stat && [ "$(stat_enabled)" = Y ]; then
	# DAMON_STAT's own kdamond through the damon_aggregated tracepoint (every damon event on),
	# in a private tracefs instance, and its parameters while the capture runs.
	I=$TR/instances/explore_stat
	mkdir $I
	echo 1 > $I/events/damon/enable
	aggr_us=$(cat $MS/aggr_interval_us)
	cap=$(( aggr_us * 4 / 1000000 + 1 )); [ $cap -lt 10 ] && cap=10; [ $cap -gt 40 ] && cap=40
	fb damon-stat-params-series.txt
	echo "# damon_stat parameters every 2 s during a ${cap}s trace capture"
	( timeout $cap cat $I/trace_pipe > /tmp/stat-trace.txt 2>/dev/null ) &
	CAP=$!
	n=0
	while [ $n -le $cap ]; do
		echo "uptime=$(uptime_s) aggr_interval_us=$(cat $MS/aggr_interval_us) estimated_memory_bandwidth=$(cat $MS/estimated_memory_bandwidth) kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
		echo "  memory_idle_ms_percentiles=$(cat $MS/memory_idle_ms_percentiles)"
		sleep 2; n=$((n + 2))
	done
	wait $CAP
	fe damon-stat-params-series.txt
	echo 0 > $I/events/damon/enable
	rmdir $I
	fb damon-stat-trace.txt
	echo "# every damon event for ${cap}s with only DAMON_STAT running (private tracefs instance)"
	echo "kdamond threads: $(kdamond_threads | tr '\n' ';')  damon_stat.kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	echo "lines: $(wc -l < /tmp/stat-trace.txt)"
	echo "events: $(ev_name < /tmp/stat-trace.txt | sort | uniq -c | tr '\n' ';')"
	echo "task-pid prefixes: $(awk '{ print $1 }' /tmp/stat-trace.txt | sort | uniq -c | tr '\n' ';')"
	echo "damon_aggregated target_id values: $(grep -o 'damon_aggregated: target_id=[0-9]*' /tmp/stat-trace.txt | sort | uniq -c | tr '\n' ';')"
	echo "damon_aggregated nr_regions values: $(grep -o 'damon_aggregated: target_id=[0-9]* nr_regions=[0-9]*' /tmp/stat-trace.txt | awk '{ print $3 }' | sort | uniq -c | tr '\n' ';')"
	echo "first lines:"
	head -n 5 /tmp/stat-trace.txt
	for e in $(ev_name < /tmp/stat-trace.txt | sort -u); do
		echo "first $e: $(grep -m1 " $e: " /tmp/stat-trace.txt)"
	done
	fe damon-stat-trace.txt
	fb damon-stat-trace-raw.txt
	head -n 3000 /tmp/stat-trace.txt
	fe damon-stat-trace-raw.txt
fi

# ---------------------------------------------------------------------------------------------
fb damon-stat-off.txt
if has_stat; then
	echo "# damon_stat enabled=N while it runs; then start the sysfs kdamonds"
	params damon_stat | grep -v percentiles
	threads "before:"
	io "write enabled N" w $MS/enabled N
	threads "right after:"
	echo "right after: enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1) aggr_interval_us=$(cat $MS/aggr_interval_us 2>&1) estimated_memory_bandwidth=$(cat $MS/estimated_memory_bandwidth 2>&1)"
	echo "right after: memory_idle_ms_percentiles=$(cat $MS/memory_idle_ms_percentiles 2>&1 | cut -c1-200)..."
	io "write enabled N again" w $MS/enabled N
fi
io "kdamond 0 on (retried every 1 ms for up to 10 s)" wuntil $D/0/state on 10 1000
io "kdamond 1 on" wuntil $D/1/state on 10 1000
threads "after on:"
for k in 0 1; do io "kdamond $k pid" r $D/$k/pid; done
sleep 0.5
has_stat && threads "0.5 s later:"
fe damon-stat-off.txt

# ---------------------------------------------------------------------------------------------
# The running tree after every refresh command.
sleep 15
nr_tried_dirs() { ls -d $D/$1/contexts/0/schemes/$2/tried_regions/[0-9]* 2>/dev/null | wc -l; }
fb sysfs-running-commands.txt
echo "# each refresh command once per kdamond (tried_regions last: update_schemes_tried_bytes empties the region directories)"
for k in 0 1; do
	io "kdamond $k update_schemes_tried_regions" w $D/$k/state update_schemes_tried_regions
	echo "  kdamond $k scheme 0: $(nr_tried_dirs $k 0) region dirs, total_bytes=$(cat $D/$k/contexts/0/schemes/0/tried_regions/total_bytes)"
	io "kdamond $k update_schemes_tried_bytes" w $D/$k/state update_schemes_tried_bytes
	echo "  kdamond $k scheme 0: $(nr_tried_dirs $k 0) region dirs, total_bytes=$(cat $D/$k/contexts/0/schemes/0/tried_regions/total_bytes)"
	for c in update_schemes_stats update_schemes_effective_quotas update_tuned_intervals commit_schemes_quota_goals update_schemes_tried_regions; do
		io "kdamond $k $c" w $D/$k/state $c
	done
	echo "  kdamond $k scheme 0: $(nr_tried_dirs $k 0) region dirs, total_bytes=$(cat $D/$k/contexts/0/schemes/0/tried_regions/total_bytes); scheme 1: $(nr_tried_dirs $k 1) region dirs"
done
fe sysfs-running-commands.txt
fb sysfs-running.txt
echo "# two running kdamonds (0 vaddr, 1 paddr; a stat and a pageout scheme each) after update_schemes_tried_bytes, update_schemes_stats, update_schemes_effective_quotas, update_tuned_intervals, commit_schemes_quota_goals, update_schemes_tried_regions; path=value"
dump_values $A
fe sysfs-running.txt
fb sysfs-running-modes.txt
dump_modes $A
fe sysfs-running-modes.txt

# ---------------------------------------------------------------------------------------------
fb trace-formats.txt
for e in $TR/events/damon/*/; do
	e=${e%/}
	echo "== ${e##*/}"
	cat $e/format
done
fe trace-formats.txt
I=$TR/instances/explore_all
mkdir $I
echo 1 > $I/events/damon/enable
timeout 8 cat $I/trace_pipe > /tmp/all-trace.txt 2>/dev/null
echo 0 > $I/events/damon/enable
rmdir $I
fb trace-events.txt
echo "# every damon event for 8 s with the two sysfs kdamonds running (kdamond 0 pid $(cat $D/0/pid), kdamond 1 pid $(cat $D/1/pid))"
echo "lines: $(wc -l < /tmp/all-trace.txt)"
echo "events: $(ev_name < /tmp/all-trace.txt | sort | uniq -c | tr '\n' ';')"
echo "events by task: $(ev_by_task < /tmp/all-trace.txt)"
for e in $(ls $TR/events/damon); do
	[ -d $TR/events/damon/$e ] || continue
	echo "== $e"
	grep " $e: " /tmp/all-trace.txt | head -n 3
done
fe trace-events.txt

# Data-attribute monitoring (7.2+, monitoring_attrs/probes): one anon probe on kdamond 1,
# committed online; what the tracepoints and tried regions show then.
fb probes.txt
P=$D/1/contexts/0/monitoring_attrs/probes
if [ -d $P ]; then
	s $P/nr_probes 1
	s $P/0/weight 100
	s $P/0/filters/nr_filters 1
	s $P/0/filters/0/type anon
	s $P/0/filters/0/matching Y
	s $P/0/filters/0/allow Y
	io "kdamond 1 commit with one anon probe" w $D/1/state commit
	sleep 3
	I=$TR/instances/explore_probe
	mkdir $I
	echo 1 > $I/events/damon/enable
	timeout 5 cat $I/trace_pipe > /tmp/probe-trace.txt 2>/dev/null
	echo 0 > $I/events/damon/enable
	rmdir $I
	echo "events by task (kdamond 0 pid $(cat $D/0/pid) has no probe, kdamond 1 pid $(cat $D/1/pid) has one): $(ev_by_task < /tmp/probe-trace.txt)"
	for e in damon_aggregated damon_region_aggregated damos_before_apply; do
		echo "== $e"
		grep " $e: " /tmp/probe-trace.txt | head -n 3
	done
	io "kdamond 1 update_schemes_tried_regions" w $D/1/state update_schemes_tried_regions
	r=$(ls -d $D/1/contexts/0/schemes/0/tried_regions/[0-9]* 2>/dev/null | head -2)
	for d in $r; do dump_values $d; done
	echo "probes tree: $(find $P | tr '\n' ' ')"
	s $P/nr_probes 0
	io "kdamond 1 commit without probes" w $D/1/state commit
else
	echo "no monitoring_attrs/probes in this kernel"
fi
fe probes.txt

# ---------------------------------------------------------------------------------------------
# EBUSY on reads: which files answer EBUSY while another writer's state command runs.
fb ebusy.txt
echo "# reads while nothing else writes (2 s each)"
for f in $D/0/state $D/0/pid $D/0/contexts/0/monitoring_attrs/intervals/aggr_us; do
	echo "${f#$D/}: $(sysio rloop $f 2 1000)"
done
for k in 0 1; do
	for i in 1 2 3; do io "single update_schemes_tried_regions kdamond $k #$i" w $D/$k/state update_schemes_tried_regions; done
	for i in 1 2 3; do io "single update_schemes_stats kdamond $k #$i" w $D/$k/state update_schemes_stats; done
done
echo "# for 10 s kdamond 1 (paddr) loops update_schemes_tried_regions; concurrent readers (1 ms gap):"
sysio wloop $D/1/state update_schemes_tried_regions 10 > /tmp/bg.txt &
PIDS=$!
for f in $D/0/state $D/1/state $D/0/pid $D/1/pid $D/nr_kdamonds $D/1/refresh_ms \
	$D/1/contexts/0/monitoring_attrs/intervals/aggr_us $D/1/contexts/0/schemes/0/stats/nr_tried \
	$D/1/contexts/0/schemes/0/tried_regions/total_bytes $D/0/contexts/0/schemes/0/tried_regions/total_bytes; do
	[ -e $f ] || { echo "${f#$D/}: absent"; continue; }
	( echo "${f#$D/}: $(sysio rloop $f 9 1000)" > /tmp/rd.$$.$(echo $f | tr '/' '_') ) &
	PIDS="$PIDS $!"
done
wait $PIDS   # never a bare wait: init.sh's watchdog and wsgen are children of this shell too
cat /tmp/rd.$$.* ; rm -f /tmp/rd.$$.*
echo "background kdamond 1 update_schemes_tried_regions: $(cat /tmp/bg.txt)"
echo "# for 6 s both kdamonds loop update_schemes_stats at once (concurrent commands):"
sysio wloop $D/0/state update_schemes_stats 6 > /tmp/c0.txt &
PIDS=$!
sysio wloop $D/1/state update_schemes_stats 6 > /tmp/c1.txt &
wait $PIDS $!
echo "kdamond 0 update_schemes_stats: $(cat /tmp/c0.txt)"
echo "kdamond 1 update_schemes_stats: $(cat /tmp/c1.txt)"
echo "# for 6 s kdamond 0 loops update_schemes_tried_regions, kdamond 1 update_schemes_stats:"
sysio wloop $D/0/state update_schemes_tried_regions 6 > /tmp/c0.txt &
PIDS=$!
sysio wloop $D/1/state update_schemes_stats 6 > /tmp/c1.txt &
PIDS="$PIDS $!"
( echo "reader kdamonds/1/state meanwhile: $(sysio rloop $D/1/state 5 1000)" > /tmp/r1.txt ) &
wait $PIDS $!
echo "kdamond 0 update_schemes_tried_regions: $(cat /tmp/c0.txt)"
echo "kdamond 1 update_schemes_stats: $(cat /tmp/c1.txt)"
cat /tmp/r1.txt
if [ -f $D/0/refresh_ms ]; then
	echo "# refresh_ms=100 on both kdamonds (the kernel refreshes stats/tried regions itself), no commands, 6 s of reads:"
	s $D/0/refresh_ms 100
	s $D/1/refresh_ms 100
	PIDS=""
	for f in $D/0/state $D/1/pid $D/0/contexts/0/schemes/0/stats/nr_tried $D/1/contexts/0/schemes/0/tried_regions/total_bytes; do
		( echo "${f#$D/}: $(sysio rloop $f 6 1000)" > /tmp/rf.$$.$(echo $f | tr '/' '_') ) &
		PIDS="$PIDS $!"
	done
	wait $PIDS
	cat /tmp/rf.$$.* ; rm -f /tmp/rf.$$.*
	echo "tried_regions of kdamond 1 scheme 0 after refresh: $(ls $D/1/contexts/0/schemes/0/tried_regions | wc -l) entries"
	s $D/0/refresh_ms 0
	s $D/1/refresh_ms 0
fi
fe ebusy.txt

# ---------------------------------------------------------------------------------------------
fb damon-stat-on.txt
if has_stat; then
	echo "# damon_stat enabled=Y while the sysfs kdamonds run, then after they stop"
	io "write enabled Y (sysfs kdamonds running)" w $MS/enabled Y
	echo "after: enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	threads "after:"
	sleep 1
	echo "1 s later: enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	[ "$(stat_enabled)" = Y ] && io "write enabled N (it reads Y)" w $MS/enabled N
	io "kdamond 0 off" w $D/0/state off
	io "kdamond 1 off" w $D/1/state off
	threads "right after off:"
	io "write enabled Y right after off (retried every 1 ms for up to 10 s)" wuntil $MS/enabled Y 10 1000
	echo "after: enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	threads "after:"
	sleep 1
	threads "1 s later:"
	echo "1 s later: enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1) aggr_interval_us=$(cat $MS/aggr_interval_us)"
	io "write enabled Y again (already Y)" w $MS/enabled Y
	echo "after: kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	threads "after:"
	echo "# toggling N then Y five times (timing of each write)"
	for i in 1 2 3 4 5; do
		echo "#$i N: $(sysio w $MS/enabled N)  Y: $(sysio wuntil $MS/enabled Y 10 1000)  kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	done
	sleep 6
	echo "6 s later: $(params damon_stat | grep -E 'enabled|kdamond_pid|aggr_interval' | tr '\n' ' ')"
	echo "6 s later: memory_idle_ms_percentiles=$(cat $MS/memory_idle_ms_percentiles | cut -c1-200)..."
	echo "sysfs kdamond 0 'on' again now: $(sysio w $D/0/state on)"
else
	echo "no damon_stat in this kernel"
	io "kdamond 0 off" w $D/0/state off
	io "kdamond 1 off" w $D/1/state off
fi
fe damon-stat-on.txt

# DAMON_RECLAIM and DAMON_LRU_SORT: exclusive like DAMON_STAT? (with and without DAMON_STAT on)
fb modules-exclusive.txt
R=/sys/module/damon_reclaim/parameters L=/sys/module/damon_lru_sort/parameters
if [ -d $R ] && [ -d $L ]; then
	echo "start: damon_stat enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1); sysfs kdamond 0 state=$(cat $D/0/state)"
	io "damon_reclaim enabled=Y" w $R/enabled Y
	sleep 1
	echo "  damon_reclaim enabled=$(cat $R/enabled) kdamond_pid=$(cat $R/kdamond_pid); $(threads now)"
	io "damon_reclaim enabled=N" w $R/enabled N
	if [ "$(cat $D/0/state)" = on ]; then io "sysfs kdamond 0 off" w $D/0/state off; fi
	has_stat && io "damon_stat enabled=N" w $MS/enabled N
	io "damon_reclaim enabled=Y (nothing else running)" w $R/enabled Y
	sleep 1
	echo "  damon_reclaim enabled=$(cat $R/enabled) kdamond_pid=$(cat $R/kdamond_pid); $(threads now)"
	io "  sysfs kdamond 0 on while damon_reclaim runs" w $D/0/state on
	has_stat && io "  damon_stat enabled=Y while damon_reclaim runs" w $MS/enabled Y
	has_stat && echo "  damon_stat enabled=$(stat_enabled) kdamond_pid=$(cat $MS/kdamond_pid 2>&1)"
	io "  damon_lru_sort enabled=Y while damon_reclaim runs" w $L/enabled Y
	sleep 1
	echo "  damon_lru_sort enabled=$(cat $L/enabled) kdamond_pid=$(cat $L/kdamond_pid); $(threads now)"
	io "damon_lru_sort enabled=N" w $L/enabled N
	io "damon_reclaim enabled=N" w $R/enabled N
	sleep 1
	has_stat && [ "$(stat_enabled)" != Y ] && io "damon_stat enabled=Y (restore)" wuntil $MS/enabled Y 10 1000
	threads "end:"
else
	echo "damon_reclaim or damon_lru_sort not built in"
fi
fe modules-exclusive.txt

fb modules-end.txt
for m in damon_stat damon_reclaim damon_lru_sort; do params $m; done
threads "end:"
fe modules-end.txt
