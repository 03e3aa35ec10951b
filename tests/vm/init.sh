#!/bin/sh
# /init of the real-kernel test VM (busybox ash). Packed into the initramfs by tests/vm/run.
# Everything this prints to the console that starts with "VM-" is read by the host script:
#   VM-NET-READY, VM-WSS ..., VM-PADDR ..., VM-TRACE-BEGIN/END, VM-KDAMOND-CPU ...,
#   VM-AGENT-READY, VM-CHECKPOINT phase=N, VM-SNAPSHOT-BEGIN/END, VM-AGENT-STAT ...,
#   VM-KMOD name=<module> enabled=Y|N kdamond_pid=<pid>, VM-KMOD-OFF ..., VM-AGENT-KDAMONDS-FAILED <why>,
#   VM-ZERO-CHECKPOINT ..., VM-FAILFAST ..., VM-READYZ-BEGIN/END, VM-AGENT-EXIT ..., VM-KDAMOND-END ...,
#   VM-KMOD-END ... (agent mode with an exclusive DAMON module at boot: the zero-config and
#   fail-fast phases; the agent's SIGTERM and what it leaves behind, every kernel),
#   VM-FACT-BEGIN/END name=<file> (explore mode, explore.sh), VM-ERROR <why>, VM-DONE rc=<n>
# Parameters come from the kernel command line as vm_<name>=<value> (see tests/vm/run).

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin   # the initramfs only holds /bin/busybox and /bin/sh
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t sysfs sysfs /sys
mount -t tracefs tracefs /sys/kernel/tracing
mkdir -p /run /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp

# Defaults; overridden by vm_* words on the kernel command line.
vm_mode=kernel            # kernel | agent | explore
vm_total=1G               # wsgen allocation
vm_hot1=128M@0            # phase 1 hot set SIZE@OFFSET
vm_hot2=384M@512M         # phase 2 hot set SIZE@OFFSET
vm_warmup_s=30            # monitoring time before the first measurement of a phase
vm_measure_n=3            # kernel mode: measurements per phase
vm_measure_gap_s=4        # kernel mode: seconds between measurements
vm_check_s=10             # agent mode: seconds the host gets to assert per phase
vm_snapshot_delay_s=15    # agent mode: when `damon-otel snapshot` starts in each phase
vm_settle_s=20            # agent mode: monitoring before phase 1's warm-up (regions adapt)
vm_agent_env=             # agent mode: K=V,K=V exported for the agent (debugging)
vm_agent_ready_s=420      # agent mode: how long to wait for the agent's /metrics
vm_zero_s=30              # agent mode, DAMON_STAT on at boot: zero-config phase length (scraped meanwhile)
vm_failfast_s=60          # agent mode, DAMON_STAT on at boot: longest wait for the fail-fast message
vm_max_s=540              # guest watchdog: power off after this many seconds
vm_port=9464
# Under TCG a pass over a 384 MiB hot set takes 100-300 ms (more on a busy host), so the kernel
# default 100 ms aggregation would call half of it idle: aggregate over 1 s instead.
vm_sample_us=20000        # kernel mode: vaddr kdamond sampling interval
vm_aggr_us=1000000        # kernel mode: vaddr kdamond aggregation interval
vm_paddr_sample_us=50000  # kernel mode: paddr kdamond (rmap walks are costly under TCG)
vm_paddr_aggr_us=1000000
for word in $(cat /proc/cmdline); do
	case "$word" in
	vm_*=*) eval "${word%%=*}='${word#*=}'" ;;
	esac
done

uptime_s() { cut -d' ' -f1 /proc/uptime; }
finish() {
	echo "VM-DONE rc=$1 uptime=$(uptime_s)"
	sync
	poweroff -f
	sleep 30
}
die() {
	echo "VM-ERROR $*"
	finish 1
}
# Write a sysfs file; a failed write names the file and the value.
w() {
	echo "$2" > "$1" 2>/tmp/werr || die "write '$2' > $1 failed: $(cat /tmp/werr)"
}

(sleep "$vm_max_s"; echo "VM-ERROR guest watchdog fired after ${vm_max_s}s"; poweroff -f) &

echo # the firmware's escape sequences end without a newline
echo "VM-BOOTED uptime=$(uptime_s) kernel=$(uname -r) mode=$vm_mode"

# The kernel's own DAMON users (built-in modules; DAMON_STAT is on by default on 6.17+). The
# kdamond_pid parameter is missing from damon_stat before 7.2: then the pid is the kdamond
# thread no sysfs kdamond owns (the only kdamond thread at boot).
kdamond_threads() { # "pid comm" of every kdamond thread
	local p c
	for p in /proc/[0-9]*; do
		read -r c < "$p/comm" 2>/dev/null || continue
		case "$c" in kdamond*) echo "${p#/proc/} $c" ;; esac
	done
}
kmod_report() { # $1 = line prefix
	local m P en kp
	for m in damon_stat damon_reclaim damon_lru_sort; do
		P=/sys/module/$m/parameters
		[ -d $P ] || continue
		en=$(cat $P/enabled 2>/dev/null)
		if [ -f $P/kdamond_pid ]; then kp=$(cat $P/kdamond_pid 2>/dev/null); else kp="none($(kdamond_threads | awk '{ printf "%s%s", s, $1; s = "," }'))"; fi
		echo "$1 name=$m enabled=$en kdamond_pid=$kp uptime=$(uptime_s)"
	done
}
kmod_report VM-KMOD

# ---- agent mode with an exclusive DAMON module at boot (7.x: DAMON_STAT) -----------------------
# EXCL: the module running at boot (empty when none); EXCL_PID its kdamond_pid then.
exclusive_at_boot() {
	local m
	EXCL="" EXCL_PID=""
	for m in damon_stat damon_reclaim damon_lru_sort; do
		if [ "$(cat /sys/module/$m/parameters/enabled 2>/dev/null)" = Y ]; then
			EXCL=$m EXCL_PID=$(cat /sys/module/$m/parameters/kdamond_pid 2>/dev/null)
			return
		fi
	done
}
# Every write to a sysfs (kernfs) file, by any task, from now on: a kprobe on
# kernfs_fop_write_iter in a private tracefs instance with the tgid recorded. tracefs itself is
# not kernfs, so the agent's own trace instance does not count. WT=1 when it works.
watch_kernfs_writes() {
	local T=/sys/kernel/tracing
	WT=0
	echo 'p:damonotel_vm/kernfs_write kernfs_fop_write_iter' >> $T/kprobe_events 2>/dev/null || return 0
	mkdir $T/instances/vm_writes 2>/dev/null || return 0
	echo 1 > $T/instances/vm_writes/options/record-tgid 2>/dev/null
	echo 1 > $T/instances/vm_writes/events/damonotel_vm/kernfs_write/enable 2>/dev/null && WT=1
}
# Number of kernfs writes by process $1 since watch_kernfs_writes (-1 when not watched).
kernfs_writes_by() {
	[ "$WT" = 1 ] || { echo -1; return; }
	awk -v p="$1" 'index($0, "kernfs_write:") && match($0, /\( *[0-9]+\)/) { s = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "", s); if (s == p) n++ } END { print n + 0 }' /sys/kernel/tracing/instances/vm_writes/trace
}
unwatch_kernfs_writes() {
	local T=/sys/kernel/tracing
	[ "$WT" = 1 ] || return 0
	echo 0 > $T/instances/vm_writes/events/damonotel_vm/kernfs_write/enable
	rmdir $T/instances/vm_writes
	echo '-:damonotel_vm/kernfs_write' >> $T/kprobe_events
	WT=0
}
# Replaces the agent's config file and asks it to reload (the file watcher sees the rename too).
agent_reload() {
	cp "$1" /run/agent.yaml.new && mv /run/agent.yaml.new /run/agent.yaml
	kill -HUP $AGENT
}
# /readyz with its body whatever the status (busybox wget drops the body of a 503). stdin stays
# open for a while: busybox nc half-closes at its EOF, which Kestrel takes for an aborted request.
readyz() {
	{ printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n'; sleep 3; } | nc 127.0.0.1 "$vm_port" 2>/dev/null | tr -d '\r'
}
# The exclusive module's current aggregation interval in µs (tuned by the kernel), -1 when unknown.
excl_aggr_us() { cat /sys/module/$EXCL/parameters/aggr_interval_us 2>/dev/null || echo -1; }

# Networking: virtio_net and its dependencies, in the order the host resolved.
for m in $(cat /lib/modules/load-order); do
	insmod "/lib/modules/$m.ko" || die "insmod $m failed"
done
ip link set lo up
i=0
while ! ip link show eth0 >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 50 ] && die "eth0 did not appear"
	sleep 0.1
done
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
ip route add default via 10.0.2.2
if [ "$vm_mode" != agent ]; then
	# Kernel-only mode: something on the guest port so the host can prove the port forward works.
	mkdir -p /www && echo vm-net-ok > /www/ok
	httpd -p "$vm_port" -h /www || die "busybox httpd failed to start"
fi
echo "VM-NET-READY uptime=$(uptime_s)"

[ -d /sys/kernel/mm/damon/admin/kdamonds ] || die "no DAMON sysfs interface in this kernel"

# ---- per-cgroup workloads (agent mode) ---------------------------------------------------------
# Two cgroup v2 groups, each running a copy of wsgen named cgwork with a known hot and cold set,
# which the `system` kdamond's page sampling reports per cgroup (agent-config.yaml `cgroups`,
# checks in assert-cgroups.sh). They fault their memory in before wsgen and the agent start, so
# each cgroup's pages lie together in physical memory (page-interleaved cgroups blend inside
# DAMON's regions: docs/per-cgroup.md). Their output stays off the console (it would read as
# wsgen's phase lines); the host gets one VM-CGROUP line per group instead.
vm_cgroups=${vm_cgroups-"cga:128M:32M cgb:192M:64M"}   # name:total:hot (hot set at offset 0); empty = none
cgroup_workloads_start() {
	local spec cg rest total hot i
	[ -n "$vm_cgroups" ] || return 0
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || die "cannot mount cgroup2 on /sys/fs/cgroup"
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control || die "cannot enable the memory controller"
	for spec in $vm_cgroups; do
		cg=${spec%%:*}; rest=${spec#*:}; total=${rest%%:*}; hot=${rest#*:}
		mkdir "/sys/fs/cgroup/$cg" || die "cannot create cgroup /$cg"
		# The shell joins the cgroup before exec, so every page the workload faults in is charged to it.
		sh -c "echo \$\$ >/sys/fs/cgroup/$cg/cgroup.procs && exec /usr/bin/wsgen -N cgwork -s 100 -t $total -p $hot@0 -f /run/cg-$cg.status" >/dev/null 2>&1 &
		i=0
		while [ ! -s "/run/cg-$cg.status" ]; do
			i=$((i + 1)); [ $i -gt 1200 ] && die "cgroup workload $cg did not start"
			sleep 0.1
		done
		echo "VM-CGROUP cgroup=/$cg $(cat "/run/cg-$cg.status")"
	done
}
# At each checkpoint: MemFree (the free-pages check) and each group's own accounting.
cgroup_checkpoint() {
	local spec cg
	[ -n "$vm_cgroups" ] || return 0
	echo "VM-CGROUP-MEMINFO phase=$1 memfree_kb=$(awk '/^MemFree:/ { print $2 }' /proc/meminfo) uptime=$(uptime_s)"
	for spec in $vm_cgroups; do
		cg=${spec%%:*}
		echo "VM-CGROUP-STAT phase=$1 cgroup=/$cg current=$(cat "/sys/fs/cgroup/$cg/memory.current") $(awk '$1 == "anon" || $1 == "file" { printf "%s=%s ", $1, $2 }' "/sys/fs/cgroup/$cg/memory.stat")"
	done
	pagetruth_all "$1"
}
# Page truth: where each group's hot and never-touched pages sit among the `system` kdamond's
# regions right now (pagetruth.c: pagemap PFNs against tried_regions). It is the kernel's own
# answer, page by page, to "how much of the group's cold memory is idle > 30 s"; the host prints
# it next to the agent's figure, which tells DAMON's region granularity from an agent error.
# A read racing the agent's tried_regions refresh misses regions (outside > 0): read again.
pagetruth_all() {
	local k rd best bestn nreg aggr spec cg rest hot pid out try
	best="" bestn=0 aggr=0
	# The agent's refresh empties the directories until the next apply: look again for a while.
	for try in $(seq 30); do
		for k in /sys/kernel/mm/damon/admin/kdamonds/[0-9]*; do
			[ "$(cat $k/contexts/0/operations 2>/dev/null)" = paddr ] || continue
			for rd in $k/contexts/0/schemes/[0-9]*/tried_regions; do
				nreg=$(ls "$rd" 2>/dev/null | grep -c '^[0-9]')
				[ "$nreg" -gt "$bestn" ] && { best=$rd; bestn=$nreg; aggr=$(cat $k/contexts/0/monitoring_attrs/intervals/aggr_us); }
			done
		done
		[ -n "$best" ] && break
		sleep 0.2
	done
	[ -n "$best" ] || { echo "VM-PAGETRUTH phase=$1 none: no paddr tried_regions"; return; }
	for spec in $vm_cgroups; do
		cg=${spec%%:*}; rest=${spec#*:}; hot=${rest#*:}
		hot=$(( ${hot%M} * 1048576 ))
		pid=$(head -1 /sys/fs/cgroup/$cg/cgroup.procs)
		for try in 1 2 3; do
			out=$(pagetruth "phase=$1 cgroup=/$cg" "$pid" "$hot" "$best" "$aggr" 30 2>&1)
			echo "$out" | grep -q ' outside=0 ' && break
		done
		echo "$out"
	done
}
[ "$vm_mode" = agent ] && cgroup_workloads_start
# ---- end of per-cgroup workloads ---------------------------------------------------------------

# wsgen: phase 1 lasts until SIGUSR1 (seconds 0), so phases follow our schedule, not its clock.
/usr/bin/wsgen -t "$vm_total" -p "$vm_hot1:0" -p "$vm_hot2" -f /run/wsgen.status &
WSGEN=$!
if [ "$vm_mode" = agent ]; then
	# Start the agent now: its startup (seconds with NativeAOT, minutes of JIT under TCG) overlaps wsgen
	# populating its memory. The agent's kdamonds target the process named wsgen, which exists.
	[ -x /agent/damon-otel ] || die "agent mode but /agent/damon-otel is missing from the initramfs"
	export HOME=/root DOTNET_BUNDLE_EXTRACT_BASE_DIR=/tmp DOTNET_gcServer=0 DOTNET_TieredPGO=0
	# Extra environment for the agent from the host (DAMON_OTEL_VM_AGENT_ENV="K=V,K=V").
	for kv in $(echo "$vm_agent_env" | tr ',' ' '); do export "$kv"; done
	mkdir -p /root
	echo "VM-AGENT-STARTING uptime=$(uptime_s)"
	# The agent logs to a file (its lines would interleave with the VM- lines the host parses);
	# the log is printed between VM-AGENT-LOG-BEGIN/END at the end and when something fails.
	# With an exclusive DAMON module running as shipped (DAMON_STAT on 7.x) the agent starts
	# zero-config (/run/agent.yaml, reloaded later with the configured kdamonds), else with the
	# configured kdamonds at once.
	exclusive_at_boot
	if [ -n "$EXCL" ]; then
		cp /etc/damon-otel-zero.yaml /run/agent.yaml
		watch_kernfs_writes
		/agent/damon-otel run --config /run/agent.yaml >/tmp/agent.log 2>&1 &
	else
		/agent/damon-otel run --config /etc/damon-otel.yaml >/tmp/agent.log 2>&1 &
	fi
	AGENT=$!
fi
# --- procs: the multi-process workload (agent mode) -------------------------------------------
# A parent shell and its vm_mp_n children, each `wsgen -N mpgen` with its own hot set, pausing
# 100 ms between passes (light on the 2 vCPUs). The agent's mpgen kdamond follows the parent's pid
# file with include_children; the truth (n x hot) is in assert.sh's procs block.
vm_mp_n=3 vm_mp_total=64M vm_mp_hot=16M
if [ "$vm_mode" = agent ]; then
	(
		for n in $(seq "$vm_mp_n"); do
			/usr/bin/wsgen -N mpgen -t "$vm_mp_total" -p "$vm_mp_hot@0" -s 100 -f "/run/mpgen.$n.status" >/dev/null &
		done
		wait
	) &
	echo $! > /run/mpgen.pid
	echo "VM-MP parent=$! children=$vm_mp_n total=$vm_mp_total hot=$vm_mp_hot"
fi
# --- end procs --------------------------------------------------------------------------------

i=0
while [ ! -s /run/wsgen.status ]; do
	i=$((i + 1)); [ $i -gt 1200 ] && die "wsgen did not start (no /run/wsgen.status)"
	kill -0 $WSGEN 2>/dev/null || die "wsgen exited"
	sleep 0.1
done

if [ "$vm_mode" = explore ]; then
	. /explore.sh   # gathers facts (VM-FACT blocks) about this kernel's DAMON
	finish 0
fi

status_field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' /run/wsgen.status; }
next_phase() {
	local before
	before=$(status_field phase)
	kill -USR1 $WSGEN
	i=0
	while [ "$(status_field phase)" = "$before" ]; do
		i=$((i + 1)); [ $i -gt 300 ] && die "wsgen did not switch phase"
		sleep 0.1
	done
}
kdamond_cpu() { # $1 = kdamond index; prints "VM-KDAMOND-CPU ..." from /proc/<pid>/stat (ticks of 1/100 s)
	local pid n=0
	# pid takes the DAMON sysfs mutex with trylock: EBUSY while a command is pending, so retry.
	until pid=$(cat /sys/kernel/mm/damon/admin/kdamonds/$1/pid 2>/dev/null); do
		n=$((n + 1)); [ $n -ge 50 ] && break
		sleep 0.1
	done
	[ "$pid" -gt 0 ] 2>/dev/null || { echo "VM-KDAMOND-CPU kdamond=$1 pid=$pid ticks=-1"; return; }
	# comm may not contain spaces for kdamonds ("kdamond.0"), so plain field numbers are safe here.
	awk -v k="$1" -v up="$(uptime_s)" '{ print "VM-KDAMOND-CPU kdamond=" k " pid=" $1 " utime=" $14 " stime=" $15 " ticks=" $14 + $15 " uptime=" up }' "/proc/$pid/stat"
}

# tried_bytes against the walk: the wsgen_tb kdamond holds the agent's bucket schemes (one stat
# scheme per idle bucket) and `walk`, a scheme matching every region. With the agent stopped (so
# its update_schemes_tried_bytes cannot empty the directories meanwhile), one
# update_schemes_tried_regions fills them all from the same regions: each bucket scheme's
# total_bytes (what the agent reads in tried_bytes mode) against the bytes of the walk's regions
# that fall in its access pattern (nr_accesses and age ranges, read from its sysfs files).
triedbytes_check() {
	local idx d s n w tot amin amax nmin nmax
	idx=$(tr -d ' \n' < /run/damon-otel/kdamonds.json | grep -o '"index":[0-9]*,"name":"wsgen_tb"' | sed 's/"index":\([0-9]*\).*/\1/')
	[ -n "$idx" ] || { echo "VM-TRIEDBYTES none: no wsgen_tb in the ownership record"; return; }
	d=/sys/kernel/mm/damon/admin/kdamonds/$idx/contexts/0/schemes
	kill -STOP $AGENT
	sleep 3   # a command the agent had in flight completes
	echo update_schemes_tried_regions > /sys/kernel/mm/damon/admin/kdamonds/$idx/state ||
		{ kill -CONT $AGENT; echo "VM-TRIEDBYTES none: update_schemes_tried_regions failed"; return; }
	n=$(cat $d/nr_schemes)
	# Scheme 0 is `walk` (user schemes come first): its regions as "nr_accesses age bytes".
	w=/tmp/walk.txt; : > $w
	for r in $d/0/tried_regions/[0-9]*; do
		echo "$(cat $r/nr_accesses) $(cat $r/age) $(( $(cat $r/end) - $(cat $r/start) ))" >> $w
	done
	echo "VM-TRIEDBYTES-WALK regions=$(wc -l < $w) bytes=$(awk '{ s += $3 } END { printf "%.0f", s }' $w) total_bytes=$(cat $d/0/tried_regions/total_bytes)"
	s=1
	while [ $s -lt $n ]; do
		tot=$(cat $d/$s/tried_regions/total_bytes)
		nmin=$(cat $d/$s/access_pattern/nr_accesses/min); nmax=$(cat $d/$s/access_pattern/nr_accesses/max)
		amin=$(cat $d/$s/access_pattern/age/min); amax=$(cat $d/$s/access_pattern/age/max)
		echo "VM-TRIEDBYTES scheme=$s nr_accesses=$nmin..$nmax age=$amin..$amax kernel=$tot walk=$(awk -v n0="$nmin" -v n1="$nmax" -v a0="$amin" -v a1="$amax" \
			'$1 >= n0 + 0 && $1 <= n1 + 0 && $2 >= a0 + 0 && $2 <= a1 + 0 { s += $3 } END { printf "%.0f", s }' $w)"
		s=$((s + 1))
	done
	kill -CONT $AGENT
}

# ---------------------------------------------------------------------------------------------
if [ "$vm_mode" = agent ]; then
	agent_log() {
		echo "VM-AGENT-LOG-BEGIN"
		tail -n "${1:-60}" /tmp/agent.log
		echo "VM-AGENT-LOG-END"
	}
	agent_die() { agent_log 40; die "$*"; }
	i=0
	while ! wget -q -O /dev/null "http://127.0.0.1:$vm_port/metrics" 2>/dev/null; do
		kill -0 $AGENT 2>/dev/null || agent_die "agent exited before serving /metrics"
		i=$((i + 1)); [ $i -gt "$vm_agent_ready_s" ] && agent_die "agent not serving /metrics after ${vm_agent_ready_s}s"
		sleep 1
	done
	echo "VM-AGENT-SERVING uptime=$(uptime_s)"
	if [ -n "$EXCL" ]; then
		# Zero-config next to the module as shipped: the agent observes it read-only; Prometheus
		# scrapes meanwhile and the host compares DAMON_STAT's exported percentiles with its own.
		echo "VM-ZERO-START aggr_us=$(excl_aggr_us) uptime=$(uptime_s)"
		sleep "$vm_zero_s"
		kill -0 $AGENT 2>/dev/null || agent_die "agent died in the zero-config phase"
		echo "VM-ZERO-CHECKPOINT module=$EXCL aggr_us=$(excl_aggr_us) enabled=$(cat /sys/module/$EXCL/parameters/enabled) kdamond_pid=$(cat /sys/module/$EXCL/parameters/kdamond_pid) boot_pid=$EXCL_PID nr_kdamonds=$(cat /sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds) writes=$(kernfs_writes_by $AGENT) iomem_first=$(awk '/System RAM/ { split($1, a, "-"); print a[1]; exit }' /proc/iomem) iomem_last=$(awk '/System RAM/ { split($1, a, "-"); l = a[2] } END { print l }' /proc/iomem) uptime=$(uptime_s)"
		sleep 5   # the host queries Prometheus at the checkpoint

		# Configured kdamonds without the opt-in: one message within a second, no EBUSY loop.
		before=$(grep -c 'Configured kdamonds not started' /tmp/agent.log)
		t0=$(uptime_s)
		agent_reload /etc/damon-otel-noopt.yaml
		i=0
		while [ "$(grep -c 'Configured kdamonds not started' /tmp/agent.log)" = "$before" ]; do
			kill -0 $AGENT 2>/dev/null || agent_die "agent died after the fail-fast reload"
			i=$((i + 1)); [ $i -gt $((vm_failfast_s * 10)) ] && break
			sleep 0.1
		done
		t1=$(uptime_s)
		sleep 6   # two collections: the sources report down, /readyz says why
		echo "VM-FAILFAST seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') messages=$(($(grep -c 'Configured kdamonds not started' /tmp/agent.log) - before)) on_attempts=$(grep -c "state command 'on'" /tmp/agent.log) source_failed_logs=$(grep -c 'Source kdamond/.* failed' /tmp/agent.log) enabled=$(cat /sys/module/$EXCL/parameters/enabled) kdamond_pid=$(cat /sys/module/$EXCL/parameters/kdamond_pid) nr_kdamonds=$(cat /sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds) writes=$(kernfs_writes_by $AGENT) uptime=$(uptime_s)"
		echo "VM-FAILFAST-RELOAD-LOG $(grep 'Config reload changes the set of kdamonds' /tmp/agent.log | tail -1)"
		echo "VM-FAILFAST-LOG $(grep 'Configured kdamonds not started' /tmp/agent.log | tail -1)"
		echo "VM-READYZ-BEGIN"
		readyz
		echo "VM-READYZ-END"
		unwatch_kernfs_writes

		# With the opt-in (the config of the main scenario): the agent takes the module over.
		before=$(grep -c 'Configured kdamonds not started' /tmp/agent.log)
		agent_reload /etc/damon-otel.yaml
		echo "VM-TAKEOVER-RELOAD uptime=$(uptime_s)"
	fi
	# /metrics answers before the kdamonds run: wait for the ownership record the agent writes
	# once it started them (the snapshot command reads it too).
	# Not starting them is a result (the host fails a check and names the reason), not a setup
	# error: e.g. an exclusive DAMON module (VM-KMOD) makes every `on` answer EBUSY.
	kdamonds_failed() {
		echo "VM-AGENT-KDAMONDS-FAILED $*"
		kmod_report VM-KMOD-NOW
		agent_log 40
		finish 1
	}
	i=0
	while [ "$(grep -c '"index"' /run/damon-otel/kdamonds.json 2>/dev/null)" != 5 ] || grep -q '"kdamond_pid": *-1' /run/damon-otel/kdamonds.json; do
		kill -0 $AGENT 2>/dev/null || kdamonds_failed "agent exited before starting its kdamonds"
		err=$(grep -m1 "state command 'on'" /tmp/agent.log)
		[ -n "$err" ] && kdamonds_failed "agent log: $(echo "$err" | cut -c1-400)"
		# Blocked by an exclusive module (the take-over did not happen, or no opt-in).
		[ "$(grep -c 'Configured kdamonds not started' /tmp/agent.log)" -gt "${before:-0}" ] &&
			kdamonds_failed "agent log: $(grep 'Configured kdamonds not started' /tmp/agent.log | tail -1 | cut -c1-600)"
		i=$((i + 1)); [ $i -gt 120 ] && kdamonds_failed "no ownership record with 5 running kdamonds (wsgen_tp, wsgen_tr, system, wsgen_tb, mpgen) in /run/damon-otel after 120s"
		sleep 1
	done
	echo "VM-AGENT-READY pid=$AGENT uptime=$(uptime_s)"
	echo "VM-OWNERSHIP $(tr -d ' \n' < /run/damon-otel/kdamonds.json)"
	agent_stat() {
		kill -0 $AGENT 2>/dev/null || agent_die "agent died"
		# /proc/<pid>/stat: comm is in parentheses and may contain spaces; count fields after ')'.
		local rest
		rest=$(sed 's/.*) //' "/proc/$AGENT/stat")
		set -- $rest
		# after ')' field 1 is state (stat field 3): utime=stat 14 -> $12, stime=stat 15 -> $13
		local ut=${12} st=${13} rss
		rss=$(awk '{ print $2 }' "/proc/$AGENT/statm")
		echo "VM-AGENT-STAT pid=$AGENT utime=$ut stime=$st rss_pages=$rss hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT/status") uptime=$(uptime_s)"
	}
	# New kdamonds start from min_nr_regions (10) regions and take ~10-15 aggregations to find
	# the hot set's edges (the tried_regions view, the kernel's moving sum, lags one more
	# aggregation): seen 307/147/131/128 MiB at 5 s scrapes for a 128 MiB hot set. Phase 1's
	# warm-up, whose 30 s the host takes medians over, starts once they have.
	sleep "$vm_settle_s"
	for phase in 1 2; do
		[ "$phase" = 2 ] && next_phase
		echo "VM-PHASE $(cat /run/wsgen.status)"
		# `damon-otel snapshot` runs in the background from $vm_snapshot_delay_s into the phase
		# (DAMON has adapted by then): its .NET startup takes a minute or more under TCG, which
		# would otherwise add to the phase. Its output goes to the console in one piece.
		(
			sleep "$vm_snapshot_delay_s"
			# time -v: its peak RSS, which the paddr kdamond sees as memory in use (assert.sh).
			time -v -o /tmp/snapshot.time /agent/damon-otel snapshot --format json >/tmp/snapshot.json 2>/tmp/snapshot.err
			rc=$?
			{
				echo "VM-SNAPSHOT-BEGIN phase=$phase"
				cat /tmp/snapshot.json
				echo "VM-SNAPSHOT-RSS kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' /tmp/snapshot.time)"
				[ $rc = 0 ] || echo "VM-SNAPSHOT-FAILED rc=$rc $(tr '\n' ' ' < /tmp/snapshot.err)"  # a check failure on the host
				echo "VM-SNAPSHOT-END phase=$phase uptime=$(uptime_s)"
			}
		) &
		SNAP=$!
		sleep "$vm_warmup_s"
		wait $SNAP
		agent_stat
		for k in /sys/kernel/mm/damon/admin/kdamonds/[0-9]*; do kdamond_cpu "${k##*/}"; done
		cgroup_checkpoint "$phase"   # per-cgroup workloads (above)
		echo "VM-CHECKPOINT phase=$phase $(cat /run/wsgen.status) uptime=$(uptime_s)"
		sleep "$vm_check_s"
		agent_stat
	done
	triedbytes_check
	# SIGTERM: the agent stops its kdamonds and switches a module it took over back on.
	t0=$(uptime_s)
	kill -TERM $AGENT
	i=0
	while kill -0 $AGENT 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 600 ] && break
		sleep 0.1
	done
	rc=gone; kill -0 $AGENT 2>/dev/null && rc=running || { wait $AGENT; rc=$?; }
	echo "VM-AGENT-EXIT rc=$rc seconds=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')"
	for k in /sys/kernel/mm/damon/admin/kdamonds/[0-9]*; do
		[ -d "$k" ] && echo "VM-KDAMOND-END kdamond=${k##*/} state=$(cat "$k/state" 2>/dev/null)"
	done
	kmod_report VM-KMOD-END
	agent_log 60
	finish 0
fi

# ---------------------------------------------------------------------------------------------
# Kernel-only mode: drive DAMON from the shell, the way the agent will.
D=/sys/kernel/mm/damon/admin/kdamonds
[ "$(cat $D/nr_kdamonds)" = 0 ] || die "expected no kdamonds at boot, found $(cat $D/nr_kdamonds)"
# A module context runs exclusively (every sysfs `on` answers EBUSY): this mode measures DAMON
# itself, so it switches them off. Agent mode never does (it tests the kernel as shipped).
for m in damon_stat damon_reclaim damon_lru_sort; do
	[ "$(cat /sys/module/$m/parameters/enabled 2>/dev/null)" = Y ] || continue
	w /sys/module/$m/parameters/enabled N
	echo "VM-KMOD-OFF name=$m: kernel-only mode switched it off to run its own kdamonds"
done
w $D/nr_kdamonds 2

match_everything() { # $1 = scheme dir
	w "$1/action" stat
	w "$1/access_pattern/sz/max" 18446744073709551615
	w "$1/access_pattern/nr_accesses/max" 4294967295
	w "$1/access_pattern/age/max" 4294967295
}

# kdamond 0: vaddr on wsgen, stat scheme applied every sampling interval (fast tried-regions walks).
C0=$D/0/contexts/0
w $D/0/contexts/nr_contexts 1
w $C0/operations vaddr
w $C0/targets/nr_targets 1
w $C0/targets/0/pid_target $WSGEN
w $C0/schemes/nr_schemes 1
match_everything $C0/schemes/0
w $C0/monitoring_attrs/intervals/aggr_us "$vm_aggr_us"
w $C0/monitoring_attrs/intervals/sample_us "$vm_sample_us"
w $C0/schemes/0/apply_interval_us "$vm_sample_us"

# kdamond 1: paddr over the largest System RAM range. Scheme 0 matches everything, no quota
# (a quota-limited scheme stops being tried once its quota is spent, so its tried_regions
# can be empty); scheme 1 is a stat scheme with a size quota, for the DAMOS counters.
C1=$D/1/contexts/0
w $D/1/contexts/nr_contexts 1
w $C1/operations paddr
w $C1/monitoring_attrs/intervals/aggr_us "$vm_paddr_aggr_us"
w $C1/monitoring_attrs/intervals/sample_us "$vm_paddr_sample_us"
ram=$(awk -F'[- :]+' '/System RAM/ { s = $1; e = $2; print s, e }' /proc/iomem | while read s e; do
	echo "$(( 0x$e + 1 - 0x$s )) $(( 0x$s )) $(( 0x$e + 1 ))"
done | sort -n | tail -1)
set -- $ram
[ -n "${3:-}" ] || die "no System RAM range in /proc/iomem"
w $C1/targets/nr_targets 1
w $C1/targets/0/regions/nr_regions 1
w $C1/targets/0/regions/0/end "$3"
w $C1/targets/0/regions/0/start "$2"
w $C1/schemes/nr_schemes 2
match_everything $C1/schemes/0
w $C1/schemes/0/apply_interval_us "$vm_paddr_sample_us"
match_everything $C1/schemes/1
w $C1/schemes/1/quotas/bytes $((64 << 20))
w $C1/schemes/1/quotas/reset_interval_ms 1000
echo "VM-PADDR-RANGE start=$2 end=$3 bytes=$1"

w $D/0/state on
w $D/1/state on
echo "VM-DAMON-ON uptime=$(uptime_s) kdamond0_pid=$(cat $D/0/pid) kdamond1_pid=$(cat $D/1/pid)"

# Private tracefs instance: never touches the global trace buffer.
T=/sys/kernel/tracing/instances/damon_otel_vm
mkdir $T || die "cannot create tracefs instance"
[ -d $T/events/damon/damon_aggregated ] || die "no damon:damon_aggregated tracepoint"

wss_tried() { # $1 = kdamond index -> "measured regions"
	local S=$D/$1/contexts/0/schemes/0 sum=0 n=0 r na s e
	w $D/$1/state update_schemes_tried_regions
	for r in $S/tried_regions/[0-9]*; do
		[ -d "$r" ] || continue
		read na < "$r/nr_accesses"; read s < "$r/start"; read e < "$r/end"
		n=$((n + 1))
		[ "$na" -ge 1 ] && sum=$((sum + e - s))
	done
	echo "$sum $n"
}

# WSS of the last complete aggregation of kdamond $1 in a trace_pipe capture ($2).
wss_trace() {
	local pid
	pid=$(cat $D/$1/pid)
	awk -v pid="$pid" '
	index($0, "damon_aggregated:") == 0 { next }
	{
		n = split($1, a, "-"); if (a[n] != pid) next
		for (i = 1; i <= NF; i++) if ($i ~ /^nr_regions=/) break
		nr = substr($i, 12) + 0; split($(i + 1), r, "[-:]")
		start = r[1] + 0; end = r[2] + 0; acc = $(i + 2) + 0
		if (cnt > 0 && start <= prev) { if (cnt == want) { done_wss = wss; done_n = cnt } cnt = 0; wss = 0 }
		if (cnt == 0) want = nr
		cnt++; prev = start; if (acc >= 1) wss += end - start
		if (cnt == want) { done_wss = wss; done_n = cnt }
	}
	END { if (done_n > 0) print done_wss, done_n; else print -1, 0 }' "$2"
}

capture_trace() { # $1 = seconds, $2 = output file
	w $T/events/damon/damon_aggregated/enable 1
	timeout "$1" cat $T/trace_pipe > "$2"
	w $T/events/damon/damon_aggregated/enable 0
}

for phase in 1 2; do
	[ "$phase" = 2 ] && next_phase
	echo "VM-PHASE $(cat /run/wsgen.status)"
	true_bytes=$(status_field hot_bytes)
	sleep "$vm_warmup_s"
	m=1
	while [ $m -le "$vm_measure_n" ]; do
		set -- $(wss_tried 0)
		echo "VM-WSS source=tried_regions phase=$phase sample=$m measured=$1 true=$true_bytes regions=$2 pass_ms=$(status_field pass_ms) uptime=$(uptime_s)"
		capture_trace 3 /tmp/trace.txt
		set -- $(wss_trace 0 /tmp/trace.txt)
		echo "VM-WSS source=tracepoint phase=$phase sample=$m measured=$1 true=$true_bytes regions=$2 events=$(grep -c damon_aggregated /tmp/trace.txt) pass_ms=$(status_field pass_ms) uptime=$(uptime_s)"
		m=$((m + 1))
		[ $m -le "$vm_measure_n" ] && sleep "$vm_measure_gap_s"
	done
	if [ "$phase" = 1 ]; then
		echo "VM-TRACE-BEGIN"
		grep damon_aggregated /tmp/trace.txt | head -n 5
		echo "VM-TRACE-END"
	fi
	kdamond_cpu 0
	kdamond_cpu 1
done

# paddr kdamond: the quota-limited stat scheme must have been tried on memory.
set -- $(wss_tried 1)
paddr_wss=$1 paddr_regions=$2
w $D/1/state update_schemes_stats
S1=$C1/schemes/1
echo "VM-PADDR wss=$paddr_wss regions=$paddr_regions nr_tried=$(cat $S1/stats/nr_tried) sz_tried=$(cat $S1/stats/sz_tried) nr_applied=$(cat $S1/stats/nr_applied) sz_applied=$(cat $S1/stats/sz_applied) qt_exceeds=$(cat $S1/stats/qt_exceeds)"

w $D/0/state off
w $D/1/state off
rmdir $T
finish 0
