#!/usr/bin/env bash
# Native (non-TCG) costs for docs/per-cgroup.md on this machine. Read-only: it reads
# /proc/kpagecgroup, /proc/kpageflags, /proc/iomem and /proc/<pid>/{maps,smaps_rollup,numa_maps,
# smaps,pagemap} of processes it starts itself, lists and stats cgroup directories, and builds a
# fake kubepods tree under a temp dir. It never writes to /sys or /proc. Needs root (kpage files).
#   bench/cgroup/host-native.sh      -> bench/cgroup/results/host-native-<time>.txt
#   CG_NATIVE_ONLY=eval bench/cgroup/host-native.sh   only the kpage eval + interleave part
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$HERE/results/host-native-$(date +%Y%m%d-%H%M%S)${CG_NATIVE_ONLY:+-$CG_NATIVE_ONLY}.txt
TMP=$(mktemp -d /tmp/cg-native.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
gcc -static -O2 -Wall -Wextra -Werror -o "$TMP/kpage" "$HERE/kpage.c" -lm
gcc -O2 -Wall -Wextra -Werror -o "$TMP/interleave" "$HERE/interleave.c"
dotnet build "$HERE/KpageProbe" -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
PROBE=$HERE/KpageProbe/bin/Release/net10.0/KpageProbe
run() { echo "\$ $*"; "$@"; echo; }
{
	echo "# $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
	# The largest System RAM range, cut into 1,000 regions (random cut points, seed 1) with
	# DAMON-like access data: a third accessed, the rest idle 0-600 s.
	read -r s e < <(awk -F'[- :]+' '/System RAM/ { print $1, $2 }' /proc/iomem | while read -r a b; do
		echo "$((16#$b + 1 - 16#$a)) $((16#$a)) $((16#$b + 1))"; done | sort -n | tail -1 | cut -d' ' -f2-)
	awk -v s="$s" -v e="$e" 'BEGIN { srand(1); n = 1000; ps = int(s / 4096); pe = int(e / 4096)
		for (i = 1; i < n; i++) c[i] = ps + int(rand() * (pe - ps)); c[0] = ps; c[n] = pe
		for (i = 0; i <= n; i++) for (j = i + 1; j <= n; j++) if (c[j] < c[i]) { t = c[i]; c[i] = c[j]; c[j] = t }
		for (i = 0; i < n; i++) if (c[i + 1] > c[i]) printf "%.0f %.0f %d %d\n", c[i] * 4096, c[i + 1] * 4096, (rand() < 0.33 ? 3 : 0), int(rand() * 600) }' > "$TMP/regions"
	echo "# regions: $(wc -l < "$TMP/regions") over [$s, $e)"
	"$TMP/kpage" cgmap /sys/fs/cgroup/memory > "$TMP/cgmap" 2>/dev/null || "$TMP/kpage" cgmap /sys/fs/cgroup > "$TMP/cgmap"
	run "$TMP/kpage" rawcost "$((e / 4096))" 50000
	for f in /sys/fs/cgroup/memory/*/memory.stat /sys/fs/cgroup/*/memory.stat; do [[ -f $f ]] && { run "$TMP/kpage" readcost "$f" 2000; break; }; done
	mkdir -p "$TMP/dump"
	run "$TMP/kpage" eval "$TMP/regions" "$TMP/cgmap" 1000000 --seeds 20 --ks 16,64 --policies prop,cluster8 --dump "$TMP/dump"
	run "$TMP/interleave" "$TMP/dump/kpagecgroup.bin"
	[[ ${CG_NATIVE_ONLY:-} == eval ]] && exit 0
	for k in 32 128; do run "$PROBE" native --regions "$TMP/regions" --cgroot /sys/fs/cgroup/memory --glob '*' --passes 5 --k $k; done
	run "$PROBE" native --regions "$TMP/regions" --cgroot /sys/fs/cgroup/memory --glob '*' --passes 5 --k 128 --no-flags
	run "$PROBE" native --regions "$TMP/regions" --cgroot /sys/fs/cgroup/memory --glob '*' --passes 5 --k 128 --cluster 8
	run "$PROBE" synthetic --groups 500 --gib 16 --regions 1000 --k 128 --passes 3
	# A systemd-driver kubepods replica: 500 pods x 2 containers, 70 interface files per directory.
	python3 - "$TMP/fakecg" <<'PY'
import os, random, sys, uuid
root = sys.argv[1]
files = [f"memory.f{i}" for i in range(40)] + [f"cgroup.f{i}" for i in range(15)] + [f"cpu.f{i}" for i in range(15)]
def mk(d):
    os.makedirs(d, exist_ok=True)
    for f in files:
        open(os.path.join(d, f), "w").close()
random.seed(1)
mk(root); mk(root + "/kubepods.slice"); mk(root + "/system.slice")
for q in ["burstable", "besteffort"]:
    mk(f"{root}/kubepods.slice/kubepods-{q}.slice")
for i in range(500):
    q = ["burstable", "besteffort"][i % 2]
    u = str(uuid.UUID(int=random.getrandbits(128))).replace("-", "_")
    pod = f"{root}/kubepods.slice/kubepods-{q}.slice/kubepods-{q}-pod{u}.slice"
    mk(pod)
    for c in range(2):
        mk(f"{pod}/cri-containerd-{random.getrandbits(256):064x}.scope")
PY
	run "$PROBE" discover --cgroot "$TMP/fakecg" --glob 'kubepods.slice/*/kubepods-*-pod*.slice' --glob 'kubepods.slice/kubepods-pod*.slice' --passes 4
	for n in 10 1000 10000 65000; do
		"$TMP/kpage" mkmaps "$n" 60 > "$TMP/mk.out" &
		mk=$!
		for _ in $(seq 100); do grep -q mkmaps "$TMP/mk.out" && break; sleep 0.1; done
		run "$TMP/kpage" maps "$mk" 5
		run "$PROBE" maps "$mk" --passes 5
		kill "$mk"; wait "$mk" 2>/dev/null || true
	done
	# A 1 GiB resident process with few mappings (pagemap / smaps_rollup walk its page tables).
	cat > "$TMP/big.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(void) { size_t n = 1UL << 30; char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(p, n, MADV_NOHUGEPAGE); memset(p, 1, n); printf("ready\n"); fflush(stdout); sleep(120); return 0; }
C
	gcc -O2 -o "$TMP/big" "$TMP/big.c"
	"$TMP/big" > "$TMP/big.out" &
	big=$!
	for _ in $(seq 300); do grep -q ready "$TMP/big.out" && break; sleep 0.2; done
	run "$TMP/kpage" maps "$big" 5
	kill "$big"; wait "$big" 2>/dev/null || true
} > "$OUT" 2>&1 || true
echo "$OUT"
