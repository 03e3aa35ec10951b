#!/bin/sh
# /init of the trace-path bench VM (busybox ash), packed by bench/trace/run.sh. It starts
# vm_kdamonds paddr kdamonds of exactly vm_regions regions each (min = max nr_regions) and
# then, for vm_rounds rounds, runs three phases of vm_phase_s seconds each:
#   none  no tracing (the kdamonds' own cost),
#   text  trace-bench reading damon_aggregated from trace_pipe (TraceReader),
#   raw   trace-bench reading per_cpu/cpuN/trace_pipe_raw (RawTraceReader),
# and prints per phase the kdamonds' CPU ticks (/proc/<pid>/stat), the machine's busy ticks
# (/proc/stat) and trace-bench's own line (events, its utime/stime). Lines for the host:
#   VM-TB phase=<mode> round=<r> wall_s=.. kdamond_ticks=.. busy_ticks=.. [TRACE-BENCH fields]
#   VM-ERROR <why>, VM-DONE rc=<n>
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t sysfs sysfs /sys
mount -t tracefs tracefs /sys/kernel/tracing
mkdir -p /run /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

vm_kdamonds=4
vm_regions=1000
vm_sample_us=50000
vm_aggr_us=100000
vm_phase_s=30
vm_rounds=2
vm_settle_s=30
vm_order="none text raw"
vm_max_s=900
for word in $(cat /proc/cmdline); do
	case "$word" in
	vm_*=*) eval "${word%%=*}='${word#*=}'" ;;
	esac
done

uptime_s() { cut -d' ' -f1 /proc/uptime; }
finish() { echo "VM-DONE rc=$1 uptime=$(uptime_s)"; sync; poweroff -f; sleep 30; }
die() { echo "VM-ERROR $*"; finish 1; }
w() { echo "$2" > "$1" 2>/tmp/werr || die "write '$2' > $1 failed: $(cat /tmp/werr)"; }
(sleep "$vm_max_s"; echo "VM-ERROR guest watchdog fired after ${vm_max_s}s"; poweroff -f) &

echo
echo "VM-BOOTED uptime=$(uptime_s) kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
A=/sys/kernel/mm/damon/admin/kdamonds
[ -d $A ] || die "no DAMON sysfs interface"

# The largest System RAM range of /proc/iomem (the paddr target, as damo picks it).
best=0 bs=0 be=0
while IFS= read -r line; do
	case "$line" in *"System RAM"*) ;; *) continue ;; esac
	r=$(echo "${line%% :*}" | tr -d ' ')
	s=$((0x${r%-*})); e=$((0x${r#*-} + 1))
	[ $((e - s)) -gt $best ] && { best=$((e - s)); bs=$s; be=$e; }
done < /proc/iomem
[ $best -gt 0 ] || die "no System RAM range in /proc/iomem"
set -- $bs $be
echo "VM-PADDR start=$1 end=$2"
w $A/nr_kdamonds "$vm_kdamonds"
k=0
while [ $k -lt "$vm_kdamonds" ]; do
	C=$A/$k/contexts
	w $C/nr_contexts 1
	w $C/0/operations paddr
	w $C/0/monitoring_attrs/intervals/sample_us "$vm_sample_us"
	w $C/0/monitoring_attrs/intervals/aggr_us "$vm_aggr_us"
	w $C/0/monitoring_attrs/intervals/update_us 1000000
	# max first: min may not exceed the current max (1000 by default).
	w $C/0/monitoring_attrs/nr_regions/max "$vm_regions"
	w $C/0/monitoring_attrs/nr_regions/min "$vm_regions"
	w $C/0/targets/nr_targets 1
	w $C/0/targets/0/regions/nr_regions 1
	w $C/0/targets/0/regions/0/start "$1"
	w $C/0/targets/0/regions/0/end "$2"
	w $A/$k/state on
	k=$((k + 1))
done
PIDS=""
k=0
while [ $k -lt "$vm_kdamonds" ]; do
	PIDS="$PIDS${PIDS:+,}$(cat $A/$k/pid)"
	k=$((k + 1))
done
echo "VM-KDAMONDS pids=$PIDS"
sleep "$vm_settle_s"

kd_ticks() { # utime+stime of every kdamond, ticks
	local t=0 p
	for p in $(echo "$PIDS" | tr ',' ' '); do
		set -- $(sed 's/.*) //' /proc/$p/stat)
		t=$((t + ${12} + ${13}))
	done
	echo $t
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # user nice system irq softirq

r=1
while [ $r -le "$vm_rounds" ]; do
	for mode in $vm_order; do
		k0=$(kd_ticks); b0=$(busy_ticks); t0=$(uptime_s)
		if [ "$mode" = none ]; then
			sleep "$vm_phase_s"
			out=""
		else
			out=$(/bench/trace-bench "$mode" --seconds "$vm_phase_s" --pids "$PIDS" 2>/tmp/tb.err) || die "trace-bench $mode failed: $(cat /tmp/tb.err)"
			sed "s/^/VM-TB-LOG $mode: /" /tmp/tb.err
		fi
		k1=$(kd_ticks); b1=$(busy_ticks); t1=$(uptime_s)
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		echo "VM-TB phase=$mode round=$r wall_s=$wall kdamond_ticks=$((k1 - k0)) busy_ticks=$((b1 - b0)) ${out#TRACE-BENCH }"
	done
	r=$((r + 1))
done
finish 0
