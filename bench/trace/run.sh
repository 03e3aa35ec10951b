#!/usr/bin/env bash
# Trace path by measurement: text trace_pipe (TraceReader) vs binary trace_pipe_raw
# (RawTraceReader) in a real kernel. Boots Debian 13's 6.12 cloud kernel in qemu with a busybox
# initramfs holding trace-bench (bench/trace/TraceBench, NativeAOT) and bench/trace/init.sh,
# which starts 4 paddr kdamonds x 1,000 regions at 100 ms aggregation and alternates phases
# none / text / raw (see init.sh). Prints per phase the kdamonds' CPU, the machine's busy CPU
# and the reader's user/system CPU, and a summary per mode. Never touches this host's DAMON or
# tracing: everything happens in the guest.
#
#   bench/trace/run.sh
#   BENCH_PHASE_S=60 BENCH_ROUNDS=3 BENCH_ACCEL=kvm bench/trace/run.sh
#
# Environment: DAMON_OTEL_VM_CACHE (kernel cache, shared layout with tests/vm/run; default
# tests/vm/.cache), BENCH_PHASE_S (30), BENCH_ROUNDS (2), BENCH_SMP (2), BENCH_ACCEL (tcg),
# BENCH_KDAMONDS (4), BENCH_REGIONS (1000), BENCH_SAMPLE_US (50000: 2 samples per aggregation keep the kdamonds' own TCG cost low; the event rate depends on the aggregation only), BENCH_AGGR_US (100000).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${DAMON_OTEL_VM_CACHE:-$REPO/tests/vm/.cache}
mkdir -p "$CACHE"; CACHE=$(cd "$CACHE" && pwd)
PHASE_S=${BENCH_PHASE_S:-30}
ROUNDS=${BENCH_ROUNDS:-2}
SMP=${BENCH_SMP:-2}
ACCEL=${BENCH_ACCEL:-tcg}
WORK=$(mktemp -d /tmp/damon-otel-tracebench.XXXXXX)
QEMU_PID=""
cleanup() {
	if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then kill "$QEMU_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[trace-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 2; }

# Debian 13 cloud kernel through a private apt configuration (as tests/vm/run does; the
# machine's own apt sources stay untouched). A cached kernel is used without network access.
fetch_kernel() {
	local kdir="$CACHE/kernel" apt="$CACHE/apt"
	mkdir -p "$kdir"
	KVER=$(ls "$kdir" 2>/dev/null | grep -E '^6\.12\..*\+deb13-cloud-amd64$' | sort -V | tail -1 || true)
	if [[ -n $KVER && -f $kdir/$KVER/.complete ]]; then return; fi
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/cache" "$apt/debs"
	echo "deb http://deb.debian.org/debian trixie main" >"$apt/sources.list"
	local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::Cache::Archives=$apt/archives"
		-o APT::Sandbox::User=root)
	log "apt-get update (private trixie source list in $apt)"
	timeout 300 apt-get "${opts[@]}" update >"$WORK/apt.log" 2>&1 || { tail "$WORK/apt.log" >&2; fail "private apt-get update failed"; }
	local pkg
	pkg=$(apt-cache "${opts[@]}" pkgnames linux-image-6.12. | grep -E '^linux-image-6\.12\.[0-9]+\+deb13-cloud-amd64-unsigned$' | sort -V | tail -1 || true)
	[[ -n $pkg ]] || fail "no linux-image-6.12.*+deb13-cloud-amd64-unsigned in trixie"
	KVER=${pkg#linux-image-}; KVER=${KVER%-unsigned}
	(cd "$apt/debs" && timeout 300 apt-get "${opts[@]}" download "$pkg" >"$WORK/apt.log" 2>&1) || { tail "$WORK/apt.log" >&2; fail "apt-get download $pkg failed"; }
	rm -rf "${kdir:?}/$KVER"; mkdir -p "$kdir/$KVER"
	dpkg -x "$(ls "$apt/debs/${pkg}"_*.deb | head -1)" "$kdir/$KVER"
	touch "$kdir/$KVER/.complete"
}

fetch_kernel
KDIR="$CACHE/kernel/$KVER"
log "kernel $KVER"
log "publishing trace-bench (NativeAOT)"
dotnet publish "$HERE/TraceBench" -c Release -r linux-x64 -p:PublishAot=true -p:UseArtifactsOutput=true \
	"-p:ArtifactsPath=$REPO/artifacts/trace-bench-build" -o "$CACHE/trace-bench" >"$WORK/publish.log" 2>&1 ||
	{ tail -20 "$WORK/publish.log" >&2; fail "publishing bench/trace/TraceBench failed"; }

root="$WORK/root"
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,bench,lib64}
cp /bin/busybox "$root/bin/busybox"; ln -s busybox "$root/bin/sh"
cp "$HERE/init.sh" "$root/init"; chmod 755 "$root/init"
cp "$CACHE/trace-bench/trace-bench" "$root/bench/"
while read -r lib; do
	[[ -f $lib ]] || continue
	mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
done < <(ldd "$root/bench/trace-bench" | grep -oE '/[^ ]+' | sort -u)
[[ -e $root/lib64/ld-linux-x86-64.so.2 ]] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 >"$WORK/initrd.gz")

SERIAL="$CACHE/logs/trace-bench-$(date +%Y%m%d-%H%M%S).log"
mkdir -p "$CACHE/logs"
max_s=$(( (3 * PHASE_S + 20) * ROUNDS + 120 ))
append="console=ttyS0 quiet panic=-1 vm_phase_s=$PHASE_S vm_rounds=$ROUNDS vm_max_s=$max_s"
append+=" vm_kdamonds=${BENCH_KDAMONDS:-4} vm_regions=${BENCH_REGIONS:-1000} vm_sample_us=${BENCH_SAMPLE_US:-50000} vm_aggr_us=${BENCH_AGGR_US:-100000}"
# .NET 10 needs x86-64-v2, and the NativeAOT runtime executes cmpxchg16b (interface dispatch
# cells) unconditionally: without CX16 trace-bench dies with SIGILL. The guest kernel must not
# use cmpxchg16b itself under TCG (SLUB crashes, see tests/vm/README.md): clearcpuid=cx16 hides
# CX16 from the kernel only, user space still has it.
cpu=qemu64,+cx16,+ssse3,+sse4.1,+sse4.2,+popcnt
append+=" clearcpuid=cx16 no_timer_check"  # no_timer_check: a loaded host can starve the IO-APIC timer check at boot
[[ $ACCEL == kvm ]] && cpu=host
# A guest kernel crash under TCG ("Oops: int3" while the kernel patches its own code for the
# tracepoint's static keys, see tests/vm/README.md) is the emulator's, not a result: boot once more.
for attempt in 1 2; do
	log "booting ($ACCEL, $SMP vCPUs, ${PHASE_S} s phases x 3 x $ROUNDS rounds; serial log $SERIAL)"
	: >"$SERIAL"
	qemu-system-x86_64 -accel "$ACCEL" -cpu "$cpu" -m 2048 -smp "$SMP" -kernel "$KDIR/boot/vmlinuz-$KVER" \
		-initrd "$WORK/initrd.gz" -append "$append" -nographic -no-reboot -nic none </dev/null >"$SERIAL" 2>&1 &
	QEMU_PID=$!
	deadline=$((SECONDS + max_s + 60))
	while kill -0 "$QEMU_PID" 2>/dev/null && ((SECONDS < deadline)); do
		grep -q -E '^VM-(DONE|ERROR)' <(tr -d '\r' <"$SERIAL") && break
		sleep 2
	done
	sleep 2
	kill "$QEMU_PID" 2>/dev/null || true
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=""
	if grep -qaE 'Oops:|Kernel panic' "$SERIAL" && ((attempt == 1)); then
		log "RETRY: the guest kernel crashed under TCG ($(tr -d '\r' <"$SERIAL" | grep -a -m1 -E 'Oops:|Kernel panic'))"
		SERIAL="$CACHE/logs/trace-bench-$(date +%Y%m%d-%H%M%S)-retry.log"
		continue
	fi
	break
done
tr -d '\r' <"$SERIAL" | grep -E '^VM-' >"$WORK/vm.txt" || true
grep -E '^VM-(BOOTED|PADDR|KDAMONDS|TB-LOG|ERROR|DONE)' "$WORK/vm.txt" >&2 || true
grep -q '^VM-DONE rc=0' "$WORK/vm.txt" || { tail -30 "$SERIAL" | tr -d '\r' >&2; fail "the guest did not finish cleanly (serial log $SERIAL)"; }

echo
echo "Per phase (ticks = 10 ms of CPU; kdamonds = sum of the ${BENCH_KDAMONDS:-4} kdamond threads; busy = whole guest, user+nice+system+irq+softirq):"
grep '^VM-TB ' "$WORK/vm.txt" | sed 's/^VM-TB /  /'
echo
echo "Per mode, mean over rounds (CPU as % of one CPU; reader = trace-bench's own utime / stime):"
grep '^VM-TB ' "$WORK/vm.txt" | awk '
	{ delete v; for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] }
	  m = v["phase"]; n[m]++; wall[m] += v["wall_s"]; kd[m] += v["kdamond_ticks"] * 10; busy[m] += v["busy_ticks"] * 10
	  ut[m] += v["utime_ms"]; st[m] += v["stime_ms"]; ev[m] += v["events"]; snap[m] += v["snapshots"]; drop[m] += v["dropped"]; err[m] += v["errors"]; bytes[m] += v["bytes"] }
	END {
	  printf "  %-5s %7s %10s %10s %10s %10s %12s %10s %10s %10s %8s %7s\n", "mode", "wall s", "kdamonds %", "busy %", "reader us%", "reader sy%", "events/s", "ns CPU/ev", "ns sys/ev", "snapshots", "dropped", "errors"
	  split("none text raw", order, " ")
	  for (j = 1; j <= 3; j++) { m = order[j]; if (!n[m]) continue; w = wall[m] * 1000
	    printf "  %-5s %7.1f %10.2f %10.2f %10.2f %10.2f %12.0f %10s %10s %10d %8d %7d\n", m, wall[m], 100 * kd[m] / w, 100 * busy[m] / w, 100 * ut[m] / w, 100 * st[m] / w, ev[m] / wall[m],
	      (ev[m] > 0 ? sprintf("%.0f", (ut[m] + st[m]) * 1e6 / ev[m]) : "-"), (ev[m] > 0 ? sprintf("%.0f", st[m] * 1e6 / ev[m]) : "-"), snap[m], drop[m], err[m] }
	}'
log "serial log $SERIAL"
