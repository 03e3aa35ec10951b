#!/bin/sh
# /init of the target-list probe VM (busybox ash), packed by bench/procs/run. It answers: what does
# a running vaddr kdamond keep when its target list changes with `commit`? Every line for the host
# starts with "R " (key=value) or "PR-" (progress).
# Parameters from the kernel command line: pr_max_s=<s> pr_warm_s=<s>
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t sysfs sysfs /sys
mkdir -p /run /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

pr_max_s=900
pr_warm_s=20
for word in $(cat /proc/cmdline); do
	case "$word" in pr_*=*) eval "${word%%=*}='${word#*=}'" ;; esac
done
uptime_s() { cut -d' ' -f1 /proc/uptime; }
finish() { echo "PR-DONE rc=$1 uptime=$(uptime_s)"; sync; poweroff -f; sleep 30; }
die() { echo "PR-ERROR $*"; finish 1; }
w() { echo "$2" > "$1" 2>/tmp/werr || die "write '$2' > $1 failed: $(cat /tmp/werr)"; }
# try: a write whose failure is a finding, not an error: prints R lines with the errno text.
try() { if echo "$3" > "$2" 2>/tmp/werr; then echo "R step=$1 write=$2 value=$3 rc=0"; else echo "R step=$1 write=$2 value=$3 rc=1 err='$(tr -d '\n' </tmp/werr)'"; fi; }
(sleep "$pr_max_s"; echo "PR-ERROR watchdog after ${pr_max_s}s"; poweroff -f) &
echo
echo "PR-BOOTED kernel=$(uname -r) uptime=$(uptime_s)"

if [ -f /sys/module/damon_stat/parameters/enabled ]; then
	echo "PR-DAMON-STAT enabled=$(cat /sys/module/damon_stat/parameters/enabled) (switched off for these probes)"
	w /sys/module/damon_stat/parameters/enabled N
fi

T=/sys/kernel/tracing/instances/procs
mkdir $T || die "no tracefs instance"
w $T/events/damon/damon_aggregated/enable 1
w $T/buffer_size_kb 4096

D=/sys/kernel/mm/damon/admin/kdamonds
K=$D/0
X=$K/contexts/0
w $D/nr_kdamonds 1
w $K/contexts/nr_contexts 1
w $X/operations vaddr
w $X/monitoring_attrs/intervals/aggr_us 500000
w $X/monitoring_attrs/intervals/sample_us 10000
w $X/monitoring_attrs/intervals/update_us 2000000
HAS_OBSOLETE=0
w $X/targets/nr_targets 1
[ -f $X/targets/0/obsolete_target ] && HAS_OBSOLETE=1
echo "R has_obsolete_target=$HAS_OBSOLETE"

# spawn NAME TOTAL: a wsgen with a 4 MiB hot set; its pid in the variable NAME.
spawn() {
	/usr/bin/wsgen -t "$2" -p 4M@0 -f /tmp/$1.status >/tmp/$1.out 2>&1 &
	eval "$1=$!"
	while ! grep -q populated /tmp/$1.out 2>/dev/null; do sleep 0.2; done
	echo "R proc=$1 pid=$! total=$2"
}
kill_wait() { kill "$1"; while [ -d /proc/$1 ]; do sleep 0.1; done; }

# stage SPEC...: each SPEC is a pid, or T (tombstone: the kdamond's own thread, one region 0-4096).
stage() {
	local i=0 s
	w $X/targets/nr_targets $#
	for s in "$@"; do
		if [ "$s" = T ]; then
			w $X/targets/$i/pid_target "$(cat $K/pid)"
			w $X/targets/$i/regions/nr_regions 1
			w $X/targets/$i/regions/0/end 4096
			w $X/targets/$i/regions/0/start 0
		else
			w $X/targets/$i/pid_target "$s"
			w $X/targets/$i/regions/nr_regions 0
		fi
		[ $HAS_OBSOLETE = 1 ] && w $X/targets/$i/obsolete_target N
		i=$((i + 1))
	done
}

# capture STEP: per target index of the last complete aggregation: regions, address span, bytes,
# max age (aggregations) and the staged pid.
capture() {
	echo > $T/trace
	sleep 2.5
	echo "R step=$1 state=$(cat $K/state) nr_targets=$(cat $X/targets/nr_targets) uptime=$(uptime_s)"
	awk -v step="$1" '
	/damon_aggregated:/ {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^target_id=/) { split($i, a, "="); t = a[2] }
			if ($i ~ /^nr_regions=/) { split($i, a, "="); n = a[2] }
			if ($i ~ /^[0-9]+-[0-9]+:$/) { sub(":", "", $i); split($i, a, "-"); s = a[1]; e = a[2]; nr = $(i + 1); age = $(i + 2) }
		}
		if (!(t in cnt) || s < last[t]) { cnt[t] = 0; lo[t] = s; by[t] = 0; ma[t] = 0; hot[t] = 0 }
		cnt[t]++; last[t] = e; hi[t] = e; by[t] += e - s; if (age + 0 > ma[t]) ma[t] = age + 0; if (nr + 0 > 0) hot[t] += e - s
		if (cnt[t] == n) { done[t] = sprintf("n=%d lo=%.0f hi=%.0f bytes=%.0f hot=%.0f maxage=%d", n, lo[t], hi[t], by[t], hot[t], ma[t]) }
	}
	END { for (t in done) printf "R step=%s t=%s %s\n", step, t, done[t] }' $T/trace | sort
	local i=0
	while [ $i -lt "$(cat $X/targets/nr_targets)" ]; do
		echo "R step=$1 staged t=$i pid=$(cat $X/targets/$i/pid_target) obsolete=$(cat $X/targets/$i/obsolete_target 2>/dev/null || echo -)"
		i=$((i + 1))
	done
}
start_kdamond() { try "$1" $K/state on; echo "R step=$1 kdamond_pid=$(cat $K/pid)"; sleep "$pr_warm_s"; capture "$1-warm"; }
stop_kdamond() { [ "$(cat $K/state)" = on ] && w $K/state off; for p in "$@"; do [ -d /proc/$p ] && kill_wait $p; done; true; }

echo "PR-T1 append at the end"
spawn A 64M; spawn B 160M
stage $A $B
start_kdamond t1
spawn C 96M
stage $A $B $C
try t1 $K/state commit
sleep 1; capture t1-append-1s
sleep 4; capture t1-append-5s
stop_kdamond $A $B $C

echo "PR-T2 remove from the middle by rewriting the list"
spawn A 64M; spawn B 160M; spawn C 96M
stage $A $B $C
start_kdamond t2
kill_wait $B
capture t2-b-dead
stage $A $C
try t2 $K/state commit
sleep 1; capture t2-naive-1s
sleep 4; capture t2-naive-5s
stop_kdamond $A $C

echo "PR-T3 commit with a dead pid still staged"
spawn A 64M; spawn B 160M; spawn C 96M
stage $A $B $C
start_kdamond t3
kill_wait $B
try t3 $K/state commit
sleep 1; capture t3-after
stop_kdamond $A $C

echo "PR-T4 tombstone (kdamond thread, region 0-4096) and its reuse"
spawn A 64M; spawn B 160M; spawn C 96M
stage $A $B $C
start_kdamond t4
kill_wait $B
stage $A T $C
try t4-tomb $K/state commit
sleep 1; capture t4-tomb-1s
sleep 4; capture t4-tomb-5s
spawn D 128M
stage $A $D $C
try t4-reuse $K/state commit
sleep 1; capture t4-reuse-1s
sleep 4; capture t4-reuse-5s
stage $A T $C
try t4-retomb $K/state commit
kill_wait $D
kill_wait $A
kill_wait $C
sleep 3
capture t4-only-tombstones
stop_kdamond

if [ $HAS_OBSOLETE = 1 ]; then
	echo "PR-T5 obsolete_target on a dead process's entry (staged with the kdamond's pid) and an append, one commit"
	spawn A 64M; spawn B 160M; spawn C 96M; spawn D 128M
	stage $A $B $C $D
	start_kdamond t5
	kill_wait $B
	spawn E 48M
	stage $A "$(cat $K/pid)" $C $D $E
	w $X/targets/1/obsolete_target Y
	try t5-obsolete $K/state commit
	sleep 1; capture t5-obsolete-1s
	sleep 4; capture t5-obsolete-5s
	stage $A $C $D $E
	try t5-steady $K/state commit
	sleep 4; capture t5-steady-5s
	echo "PR-T5b obsolete_target on a live process"
	w $X/targets/0/obsolete_target Y
	try t5b-obsolete-live $K/state commit
	sleep 1; capture t5b-1s
	echo "R step=t5b a_alive=$([ -d /proc/$A ] && echo 1 || echo 0)"
	stage $C $D $E
	try t5b-steady $K/state commit
	sleep 4; capture t5b-steady-5s
	echo "PR-T5c obsolete_target with the dead process's own pid"
	kill_wait $C
	w $X/targets/0/obsolete_target Y
	try t5c-obsolete-dead-pid $K/state commit
	sleep 1; capture t5c-1s
	stop_kdamond $A $C $D $E
fi
finish 0
