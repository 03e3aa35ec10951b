#!/usr/bin/env bash
# Runs damo against a fake DAMON tree only: in a private mount namespace where /sys/kernel and
# /sys/module are bind mounts of PREFIX/sys/kernel and PREFIX/sys/module (bench/fixtures/make-tree.py),
# which hides this machine's /sys/kernel/mm/damon, /sys/kernel/tracing, /sys/kernel/debug and
# /sys/module/damon_*. Before damo starts, the script checks inside the namespace that each of
# those paths is the fake one (marker files) or absent; any doubt and damo never runs.
#
#   bench/damo-sandbox.sh PREFIX DAMO_ROOT RUNS -- DAMO_ARGS...
#
# DAMO_ROOT is a `dpkg -x` of Debian's damo package (usr/bin/damo, usr/lib/python3/dist-packages).
# Runs damo RUNS times through bench/damo-fake-kernel.py (state commands are taken, not stored,
# as the kernel does) and prints one "damo_run WALL_S USER_S SYS_S MAXRSS_KB" line per run
# and the number of region lines of the last run's output (damo_region_lines=).
set -euo pipefail
if [[ ${1:-} != --inside ]]; then
	prefix=$(cd "$1" && pwd) damo_root=$(cd "$2" && pwd) runs=$3
	shift 3; [[ ${1:-} == -- ]] && shift
	exec unshare --mount --propagation private -- "$0" --inside "$prefix" "$damo_root" "$runs" "$@"
fi
shift
prefix=$1 damo_root=$2 runs=$3
shift 3
die() { echo "damo-sandbox: $*" >&2; exit 3; }
# This namespace only: tracefs and debugfs leave its mount table, so damo finds neither.
umount -l /sys/kernel/tracing 2>/dev/null || true
umount -l /sys/kernel/debug 2>/dev/null || true
fake() { # $1 = tree prefix: bind it over /sys/kernel and /sys/module and prove it is there
	mount --bind "$1/sys/kernel" /sys/kernel
	mount --bind "$1/sys/module" /sys/module
	[[ $(cat /sys/kernel/.damon-otel-fake-tree 2>/dev/null) == "$1" ]] || die "/sys/kernel is not the fake tree; damo not started"
	[[ $(cat /sys/module/.damon-otel-fake-tree 2>/dev/null) == "$1" ]] || die "/sys/module is not the fake tree; damo not started"
	for p in /sys/kernel/tracing/trace /sys/kernel/debug/tracing /sys/kernel/debug/damon; do
		[[ ! -e $p ]] || die "$p exists in the namespace; damo not started"
	done
	! grep -qE ' (tracefs|debugfs) ' /proc/self/mounts || die "tracefs/debugfs still mounted in the namespace; damo not started"
}
unfake() { umount /sys/module; umount /sys/kernel; }
export HOME="$prefix/home-$(basename "$damo_root")" PYTHONPATH="$damo_root/usr/lib/python3/dist-packages" PYTHONDONTWRITEBYTECODE=1
mkdir -p "$HOME"
fake "$prefix"
# damo 3.x caches what the kernel supports in $HOME/.damo.sysinfo and refuses to probe while a
# kdamond runs (and its probe needs a real sysfs, which creates directories on writes): write
# the cache for a 6.12 kernel with damo's own classes, features upstreamed up to 6.12 that the
# sysfs interface and modules offer (the tree has no tracefs or debugfs).
if [[ -f $damo_root/usr/lib/python3/dist-packages/damo/_damo_sysinfo.py && ! -f $HOME/.damo.sysinfo ]]; then
	python3 - <<'PY' || die "could not write damo's sysinfo cache"
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "damo"))
import _damo_fs, _damo_sysinfo, _damon_features, damo_version
def ver(v):
    try:
        return tuple(int(x) for x in v.lstrip("v").split(".")[:2])
    except ValueError:
        return None
feats = [f for f in _damon_features.features_list
         if ver(f.upstreamed_version) is not None and ver(f.upstreamed_version) <= (6, 12)
         and not f.name.startswith(("debugfs/", "trace/"))]
_damo_sysinfo.system_info = _damo_sysinfo.SystemInfo(
    damo_version=damo_version.get_real_version(),
    kernel_version=subprocess.check_output(["uname", "-r"]).decode().strip(),
    sysfs_path=_damo_fs.dev_mount_point("sysfs"), tracefs_path=_damo_fs.dev_mount_point("tracefs"),
    debugfs_path=_damo_fs.dev_mount_point("debugfs"), avail_damon_features=feats)
err = _damo_sysinfo.save_sysinfo_file()
sys.exit(1 if err else 0)
PY
fi
# damo 2.x keeps the same in $HOME/.damo.damon_feature_supports (per interface, per kernel and
# damo version): features of the sysfs interface merged up to 6.12.
if [[ -f $damo_root/usr/lib/python3/dist-packages/damo/_damon.py && ! -f $damo_root/usr/lib/python3/dist-packages/damo/_damo_sysinfo.py && ! -f $HOME/.damo.damon_feature_supports ]]; then
	python3 - <<'PY' || die "could not write damo's feature cache"
import json, os, subprocess, sys
sys.path.insert(0, os.path.join(os.environ["PYTHONPATH"], "damo"))
import _damon, damo_version
after_6_12 = {"record", "sz_ops_filter_passed", "allow_filter", "schemes_filters_hugepage_size", "schemes_filters_unmapped",
              "intervals_goal", "schemes_filters_core_ops_dirs", "schemes_filters_active", "schemes_quota_goal_node_mem_used_free"}
with open(_damon.feature_supports_file_path, "w") as f:
    json.dump({"file_format_ver": _damon.feature_support_file_format_ver,
               "kernel_version": subprocess.check_output(["uname", "-r"]).decode(),
               "damo_version": damo_version.__version__,
               "sysfs": {x: x not in after_6_12 for x in _damon.features}}, f)
PY
fi
for i in $(seq "$runs"); do
	# wall and CPU (user+sys of damo's process, from wait4) per run: on a shared machine CPU is the fair figure.
	rm -f /tmp/damo-sandbox.$$.time
	python3 "$(dirname "$0")/fixtures/timed.py" /tmp/damo-sandbox.$$.time damo_run /tmp/damo-sandbox.$$.out -- \
		python3 "$(dirname "$0")/damo-fake-kernel.py" "$PYTHONPATH" "$@" ||
		{ cat /tmp/damo-sandbox.$$.out >&2; rm -f /tmp/damo-sandbox.$$.*; die "damo failed (run $i)"; }
	cat /tmp/damo-sandbox.$$.time
done
grep -c '^[0-9]' /tmp/damo-sandbox.$$.out | sed 's/^/damo_region_lines=/'
rm -f /tmp/damo-sandbox.$$.*
