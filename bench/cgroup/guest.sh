#!/bin/sh
# /init of the per-cgroup probe VM (busybox ash), packed by bench/cgroup/run. Everything it prints
# for the host starts with "R " (key=value, from kpage or from here) or "CG-" (progress).
# Parameters from the kernel command line: cg_plan=<scenario,...> cg_m1=0|1 cg_warmup_s=<s>
#   cg_window_s=<s> cg_m1_apply_us=<us> cg_seeds=<n> cg_max_s=<s>
# Scenarios: two-contig, two-inter (2 cgroups, contiguous / page-interleaved placement),
#   many<N> (N small cgroups, interleaved 4 pages at a time), maps (vaddr maps costs).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t sysfs sysfs /sys
mkdir -p /run /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

cg_plan=two-contig,two-inter,many20,many50,maps
cg_m1=1
cg_m1_young=1
cg_warmup_s=40
cg_window_s=20
cg_m1_apply_us=0
cg_seeds=200
cg_max_s=1500
for word in $(cat /proc/cmdline); do
	case "$word" in cg_*=*) eval "${word%%=*}='${word#*=}'" ;; esac
done
uptime_s() { cut -d' ' -f1 /proc/uptime; }
finish() { echo "CG-DONE rc=$1 uptime=$(uptime_s)"; sync; poweroff -f; sleep 30; }
die() { echo "CG-ERROR $*"; finish 1; }
w() { echo "$2" > "$1" 2>/tmp/werr || die "write '$2' > $1 failed: $(cat /tmp/werr)"; }
(sleep "$cg_max_s"; echo "CG-ERROR watchdog after ${cg_max_s}s"; poweroff -f) &
echo
echo "CG-BOOTED kernel=$(uname -r) uptime=$(uptime_s) plan=$cg_plan m1=$cg_m1"

# cgroup v2 with the memory controller for children.
CG=/sys/fs/cgroup
mount -t cgroup2 none $CG || die "cannot mount cgroup2"
w $CG/cgroup.subtree_control +memory

# DAMON_STAT (7.x) holds DAMON exclusively: switch it off for these probes.
if [ -f /sys/module/damon_stat/parameters/enabled ]; then
	echo "CG-DAMON-STAT enabled=$(cat /sys/module/damon_stat/parameters/enabled)"
	w /sys/module/damon_stat/parameters/enabled N
fi

D=/sys/kernel/mm/damon/admin/kdamonds
C=$D/0/contexts/0
w $D/nr_kdamonds 1
w $D/0/contexts/nr_contexts 1
w $C/operations paddr
w $C/monitoring_attrs/intervals/aggr_us 1000000
w $C/monitoring_attrs/intervals/sample_us 20000
ram=$(awk -F'[- :]+' '/System RAM/ { print $1, $2 }' /proc/iomem | while read s e; do
	echo "$(( 0x$e + 1 - 0x$s )) $(( 0x$s )) $(( 0x$e + 1 ))"; done | sort -n | tail -1)
set -- $ram
w $C/targets/nr_targets 1
w $C/targets/0/regions/nr_regions 1
w $C/targets/0/regions/0/end "$3"
w $C/targets/0/regions/0/start "$2"
echo "CG-PADDR start=$2 end=$3 bytes=$1"
PADDR_BYTES=$1

match_everything() { # $1 = scheme dir
	w "$1/action" stat
	w "$1/access_pattern/sz/max" 18446744073709551615
	w "$1/access_pattern/nr_accesses/max" 4294967295
	w "$1/access_pattern/age/max" 4294967295
}
# Filters dir: ops_filters (6.15+) else filters.
filters_dir() { if [ -d "$1/ops_filters" ]; then echo "$1/ops_filters"; else echo "$1/filters"; fi; }

# schemes: scheme 0 = all-matching stat (the snapshot); then one memcg-filtered stat scheme per
# path given. Writing nr_schemes resets every scheme's fields, so all are written again.
M1_YOUNG=0  # 1: each memcg scheme also has a young filter (page-exact accessed bytes)
set_schemes() {
	local n=$(($# + 1)) i=1 S F
	w $C/schemes/nr_schemes $n
	match_everything $C/schemes/0
	for p in "$@"; do
		S=$C/schemes/$i
		match_everything $S
		w $S/apply_interval_us "$cg_m1_apply_us"
		F=$(filters_dir $S)
		if [ "$M1_YOUNG" = 1 ]; then
			# reject pages outside the cgroup, then allow young ones (the rest: default reject)
			w $F/nr_filters 2
			w $F/0/type memcg
			w $F/0/memcg_path "$p"
			w $F/0/matching N
			w $F/0/allow N
			w $F/1/type young
			w $F/1/matching Y
			w $F/1/allow Y
		else
			w $F/nr_filters 1
			w $F/0/type memcg
			w $F/0/memcg_path "$p"
			w $F/0/matching Y
			[ -f $F/0/allow ] && w $F/0/allow Y
		fi
		i=$((i + 1))
	done
}
set_schemes
w $D/0/state on
KPID=$(cat $D/0/pid)
echo "CG-DAMON-ON pid=$KPID uptime=$(uptime_s)"

kd_ticks() { awk '{ print $14 + $15 }' /proc/$KPID/stat; }
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
ms_since() { echo $(( $(now_ms) - $1 )); }
# kdamond CPU in % of one CPU between two tick counts (1/100 s) over the window.
pct() { awk -v a="$1" -v b="$2" -v w="$cg_window_s" 'BEGIN { printf "%.1f", (b - a) / w }'; }

# Snapshot of scheme 0 into /tmp/regions ("start end nr_accesses age"), timing the update.
snapshot() {
	local t0 S=$C/schemes/0
	t0=$(now_ms)
	w $D/0/state update_schemes_tried_regions
	echo "R snapshot_update ms=$(ms_since $t0) schemes=$(cat $C/schemes/nr_schemes)"
	awk '{ n = split(FILENAME, p, "/"); r = p[n - 1]; v[r, p[n]] = $1; rs[r] = 1 }
	END { for (r in rs) print v[r, "start"], v[r, "end"], v[r, "nr_accesses"], v[r, "age"] }' \
		$S/tried_regions/*/start $S/tried_regions/*/end $S/tried_regions/*/nr_accesses $S/tried_regions/*/age |
		sort -n > /tmp/regions
	echo "R regions n=$(wc -l < /tmp/regions) wss_mib=$(awk '$3 > 0 { s += $2 - $1 } END { printf "%.1f", s / 1048576 }' /tmp/regions)"
}

# Per-cgroup truth from the cgroup files.
cg_truth() { # paths relative to $CG
	for p in "$@"; do
		awk -v cg="$p" -v cur="$(cat $CG$p/memory.current)" '
			$1 == "anon" || $1 == "file" || $1 == "kernel" || $1 == "shmem" || $1 == "slab" || $1 == "percpu" { v[$1] = $2 }
			END { printf "R memstat cg=%s current_mib=%.2f anon_mib=%.2f file_mib=%.2f shmem_mib=%.2f kernel_mib=%.2f slab_mib=%.2f\n",
				cg, cur / 1048576, v["anon"] / 1048576, v["file"] / 1048576, v["shmem"] / 1048576, v["kernel"] / 1048576, v["slab"] / 1048576 }' $CG$p/memory.stat
	done
}

# M1: one memcg-filtered stat scheme per cgroup; kdamond CPU over a window, update time, and the
# per-cgroup resident / WSS / idle>=30 s from per-region sz_filter_passed.
m1() { # mode (plain|young), paths
	local t0 k0 k1 i mode=$1
	shift
	local n=$#
	M1_YOUNG=0; [ "$mode" = young ] && M1_YOUNG=1
	# CPU windows with the workloads stopped (SIGSTOP): busy workloads would starve the kdamond
	# of CPU and cap what it can spend. Cost per application = extra kdamond CPU / applications,
	# applications = growth of scheme 1's sz_tried / monitored bytes.
	work_signal STOP
	k0=$(kd_ticks); sleep "$cg_window_s"; k1=$(kd_ticks)
	echo "R m1_baseline schemes=1 window_s=$cg_window_s kdamond_cpu_pct=$(pct $k0 $k1) ticks=$((k1 - k0))"
	work_signal CONT
	t0=$(now_ms)
	set_schemes "$@"
	w $D/0/state commit
	echo "R m1_commit mode=$mode ms=$(ms_since $t0) memcg_schemes=$n"
	sleep 5
	work_signal STOP
	w $D/0/state update_schemes_stats
	s0=$(cat $C/schemes/1/stats/sz_tried)
	k0=$(kd_ticks); sleep "$cg_window_s"; k1=$(kd_ticks)
	w $D/0/state update_schemes_stats
	s1=$(cat $C/schemes/1/stats/sz_tried)
	echo "R m1_load mode=$mode memcg_schemes=$n window_s=$cg_window_s kdamond_cpu_pct=$(pct $k0 $k1) ticks=$((k1 - k0)) applies=$(awk -v a=$s0 -v b=$s1 -v m=$PADDR_BYTES 'BEGIN { printf "%.1f", (b - a) / m }')"
	work_signal CONT
	sleep 5
	t0=$(now_ms)
	w $D/0/state update_schemes_tried_regions
	echo "R m1_update mode=$mode ms=$(ms_since $t0) memcg_schemes=$n"
	t0=$(now_ms)
	i=1
	for p in "$@"; do
		S=$C/schemes/$i
		awk -v cg="$p" -v mode="$mode" '{ n = split(FILENAME, q, "/"); r = q[n - 1]; v[r, q[n]] = $1; rs[r] = 1 }
		END { for (r in rs) { b = v[r, "sz_filter_passed"]; res += b; if (v[r, "nr_accesses"] > 0) wss += b; else if (v[r, "age"] + 1 >= 30) idle += b; nr++ }
			printf "R m1 mode=%s cg=%s regions=%d resident_mib=%.2f wss_mib=%.2f idle_ge_30s_mib=%.2f\n", mode, cg, nr, res / 1048576, wss / 1048576, idle / 1048576 }' \
			$S/tried_regions/*/sz_filter_passed $S/tried_regions/*/nr_accesses $S/tried_regions/*/age
		i=$((i + 1))
	done
	echo "R m1_read mode=$mode ms=$(ms_since $t0) memcg_schemes=$n"
	if [ "$mode" = plain ]; then
		# Cross-check on the very regions the filters saw: page-exact kpagecgroup attribution.
		S=$C/schemes/1
		awk '{ n = split(FILENAME, p, "/"); r = p[n - 1]; v[r, p[n]] = $1; rs[r] = 1 }
		END { for (r in rs) print v[r, "start"], v[r, "end"], v[r, "nr_accesses"], v[r, "age"] }' \
			$S/tried_regions/*/start $S/tried_regions/*/end $S/tried_regions/*/nr_accesses $S/tried_regions/*/age | sort -n > /tmp/m1regions
		echo "R m1_crosscheck_begin"
		kpage eval /tmp/m1regions /tmp/cgmap 1000000 --seeds 50 --ks 16 --policies prop --idle-s 5,30
		echo "R m1_crosscheck_end"
	fi
	M1_YOUNG=0
	set_schemes
	w $D/0/state commit
}

WORKPID=""
start_work() { # cgwork args
	rm -f /tmp/cgwork.out /run/cgwork.status
	/usr/bin/cgwork -s /run/cgwork.status "$@" > /tmp/cgwork.out 2>&1 &
	WORKPID=$!
	local i=0
	while ! grep -q 'cgwork: ready' /tmp/cgwork.out; do
		i=$((i + 1)); [ $i -gt 1200 ] && die "cgwork not ready: $(cat /tmp/cgwork.out)"
		kill -0 $WORKPID 2>/dev/null || die "cgwork exited: $(cat /tmp/cgwork.out)"
		sleep 0.5
	done
	echo "CG-WORK-READY uptime=$(uptime_s) $(cat /tmp/cgwork.out | tr '\n' ' ')"
	sed 's/^/R work /' /run/cgwork.status
}
work_signal() { for p in $(sed 's/.* pid=\([0-9]*\).*/\1/' /run/cgwork.status); do kill -$1 $p 2>/dev/null; done; }
stop_work() {
	for p in $(sed 's/.* pid=\([0-9]*\).*/\1/' /run/cgwork.status); do kill -9 $p 2>/dev/null; done
	kill -9 $WORKPID 2>/dev/null
	wait $WORKPID 2>/dev/null
	rm -f /tmp/cgwork-file-*
	sleep 2
}

run_scenario() { # name, m1 paths, cgwork args...
	local name=$1 paths=$2 detail=""
	shift 2
	echo "CG-SCENARIO name=$name uptime=$(uptime_s)"
	echo "R scenario name=$name"
	start_work "$@"
	sleep "$cg_warmup_s"
	snapshot
	kpage cgmap $CG > /tmp/cgmap
	cg_truth $(echo "$paths" | tr ',' ' ')
	[ "$(echo "$paths" | tr ',' '\n' | wc -l)" -le 4 ] && detail=--detail
	local t0; t0=$(now_ms)
	# Page ownership does not change while the workloads are stopped; stopping them keeps 50 busy
	# loops from starving the evaluation (its costs are CPU times, not wall times).
	work_signal STOP
	kpage eval /tmp/regions /tmp/cgmap 1000000 --seeds "$cg_seeds" --ks 1,4,8,16,64 --idle-s 5,30 $detail
	echo "R eval_wall ms=$(ms_since $t0)"
	work_signal CONT
	if [ "$cg_m1" = 1 ]; then
		m1 plain $(echo "$paths" | tr ',' ' ')
		[ "$cg_m1_young" = 1 ] && case "$name" in two-*) m1 young $(echo "$paths" | tr ',' ' ') ;; esac
	fi
	stop_work
}

for sc in $(echo "$cg_plan" | tr ',' ' '); do
	case "$sc" in
	two-contig|two-inter)
		mkdir -p $CG/pod1 $CG/pod2
		w $CG/pod1/cgroup.subtree_control +memory
		mkdir -p $CG/pod1/ctr
		chunk=0; [ "$sc" = two-inter ] && chunk=1
		# pod1's memory is charged to its container cgroup: the memcg filter on /pod1 shows
		# whether the filter matches descendants.
		run_scenario "$sc" /pod1/ctr,/pod2,/pod1 -c $chunk -g $CG/pod1/ctr:256M:64M:32M -g $CG/pod2:384M:192M:32M
		rmdir $CG/pod1/ctr $CG/pod1 $CG/pod2
		;;
	many*)
		n=${sc#many}
		mkdir -p $CG/many
		w $CG/many/cgroup.subtree_control +memory
		args="" paths=""
		i=0
		while [ $i -lt "$n" ]; do
			mkdir -p $CG/many/g$i
			# 12 MiB each; hot 0, 2, 4 or 6 MiB in turn (total hot ~ n * 3 MiB).
			args="$args -g $CG/many/g$i:12M:$(( (i % 4) * 2 ))M"
			paths="$paths${paths:+,}/many/g$i"
			i=$((i + 1))
		done
		run_scenario "$sc" "$paths" -c 4 $args
		i=0; while [ $i -lt "$n" ]; do rmdir $CG/many/g$i; i=$((i + 1)); done
		rmdir $CG/many
		;;
	maps)
		echo "CG-SCENARIO name=maps uptime=$(uptime_s)"
		for n in 10 1000 10000; do
			kpage mkmaps $n 120 > /tmp/mk.out &
			mk=$!
			i=0; while ! grep -q mkmaps /tmp/mk.out; do i=$((i + 1)); [ $i -gt 200 ] && break; sleep 0.1; done
			kpage maps $(sed 's/.*pid=\([0-9]*\).*/\1/' /tmp/mk.out) 5
			kill $mk; wait $mk 2>/dev/null
		done
		;;
	*) die "unknown scenario $sc" ;;
	esac
done
w $D/0/state off
finish 0
