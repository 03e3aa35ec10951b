#!/usr/bin/env bash
# Runs one damo command where it cannot reach this machine's DAMON or tracing: in a private mount
# namespace whose DAMON sysfs, module parameters, tracefs and debugfs are fresh tmpfs mounts
# (optionally filled with a fake tree), the rest of /sys read-only, and perf/trace-cmd replaced by
# stubs that refuse to run. See docs/damo-interop.md ("The sandbox").
#
#   scripts/damo-sandbox.sh [options] [--] DAMO-ARGS...
#
# Options:
#   --damo VERSION|PATH   damo to run: 2.8.3, 3.4.1 (via scripts/fetch-damo.sh) or a wrapper path
#                         (default: $DAMON_OTEL_DAMO, else 3.4.1)
#   --fake-root DIR       copy DIR/sys/kernel/mm/damon, DIR/sys/module, DIR/sys/kernel/tracing and
#                         DIR/sys/kernel/debug (those that exist) into the sandbox's tmpfs mounts,
#                         e.g. tests/DamonOtel.Damon.Tests/Fixtures/linux-6.12
#   --probe-features DIR  first let damo probe DAMON features on DIR's tree (like --fake-root, with
#                         every kdamond forced off) and cache them in $HOME; needed by commands
#                         that read a running kdamond (report damon); also silences damo 3.x's
#                         "feature is not available" warnings (args damon)
#   --cwd DIR             damo's working directory (default: the caller's)
#   --dump-after DIR      after damo exits, copy the fake trees (as damo left them) to DIR/sys/...
#   --home DIR            damo's $HOME (it caches ~/.damo.sysinfo there; default: a fresh temp dir)
#
# damo's exit code is passed through. A sandbox that cannot be set up exits 97 before damo starts.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
MARKER=.damon-otel-sandbox
SETUP_FAIL=97

die() { printf '[damo-sandbox] FAIL: %s\n' "$*" >&2; exit "$SETUP_FAIL"; }

# Empties the fake mounts (keeping the marker) and copies $1/sys/<sub> into them. With $2 = off,
# every kdamond's state file is set to "off" in the copy, so damo's feature probe runs.
load_trees() {
	local src=$1 force_off=$2 mp sub
	while read -r mp; do
		for sub in kernel/mm/damon module kernel/tracing kernel/debug; do
			[[ -f $mp/$sub/$MARKER ]] || continue
			find "$mp/$sub" -mindepth 1 -maxdepth 1 ! -name "$MARKER" -exec rm -rf {} +
			if [[ -n $src && -d $src/sys/$sub ]]; then cp -a "$src/sys/$sub/." "$mp/$sub/"; fi
		done
		if [[ $force_off == off && -d $mp/kernel/mm/damon/admin/kdamonds ]]; then
			find "$mp/kernel/mm/damon/admin/kdamonds" -mindepth 2 -maxdepth 2 -name state -exec sh -c 'echo off >"$1"' _ {} \;
		fi
	done < <(awk '$3 == "sysfs" { print $2 }' /proc/self/mounts)
}

# Lets damo probe DAMON features on the (fake, stopped) tree loaded now and cache them in $HOME,
# where the real command finds them: damo refuses to probe while a kdamond runs, and damo 3.x
# also insists on a mounted tracefs, which the sandbox never provides. 2.8.x probes and caches
# with `damo features`; for 3.x a snippet calls damo's own probe (sysfs and module features
# only; no tracepoint features) and saves damo's own sysinfo cache file.
probe_features() {
	local version
	version=$("$DAMO_SANDBOX_DAMO" version) || die "damo version failed"
	case $version in
	2.*)
		"$DAMO_SANDBOX_DAMO" features >/dev/null || die "damo features (feature probe) failed"
		[[ -f $HOME/.damo.damon_feature_supports ]] || die "damo $version left no feature cache"
		;;
	3.*)
		local py
		py=$(dirname "$DAMO_SANDBOX_DAMO")/python
		[[ -x $py ]] || die "no $py next to $DAMO_SANDBOX_DAMO (re-run scripts/fetch-damo.sh)"
		"$py" - <<'EOF' || die "damo $version feature probe failed"
import os, subprocess, sys
import damo
sys.path.insert(0, os.path.dirname(damo.__file__))
import _damo_sysinfo, _damon_modules, _damon_sysfs, damo_version
features, err = _damo_sysinfo.avail_features_on(_damon_sysfs)
if err is not None:
    sys.exit("probe failed: %s" % err)
features += _damo_sysinfo.get_avail_damon_interface_features()
features += _damon_modules.get_avail_features()
_damo_sysinfo.system_info = _damo_sysinfo.SystemInfo(
    damo_version=damo_version.get_real_version(),
    kernel_version=subprocess.check_output(["uname", "-r"]).decode().strip(),
    sysfs_path="/sys", tracefs_path=None, debugfs_path=None,
    avail_damon_features=features)
err = _damo_sysinfo.save_sysinfo_file()
if err is not None:
    sys.exit("saving the sysinfo cache failed: %s" % err)
EOF
		[[ -f $HOME/.damo.sysinfo ]] || die "damo $version left no sysinfo cache"
		;;
	*) die "unknown damo version '$version'" ;;
	esac
}

# ------------------------------------------------------------------------------------------------
# Inside the namespace. Every step is checked; damo is exec'ed only after all of them passed.
inside() {
	[[ ${DAMO_SANDBOX_PARENT_NS:-} ]] || die "internal: no parent namespace id"
	local own_ns
	own_ns=$(readlink /proc/self/ns/mnt)
	[[ $own_ns != "$DAMO_SANDBOX_PARENT_NS" ]] || die "not in a new mount namespace ($own_ns)"
	# Nothing mounted here may propagate back to the host's namespace.
	local shared
	shared=$(findmnt -rn -o TARGET,PROPAGATION | awk '$2 != "private" { print $1 }' | head -3)
	[[ -z $shared ]] || die "mounts not private in the sandbox: $shared"

	# damo finds tracefs and debugfs through /proc/mounts: unmount every instance (only in this
	# namespace) so the only trees it can find are the tmpfs ones below.
	local mp
	while read -r mp; do
		umount -l "$mp" || die "cannot unmount $mp in the sandbox"
	done < <(awk '$3 == "tracefs" || $3 == "debugfs" { print $2 }' /proc/self/mounts | sort -r)
	! awk '$3 == "tracefs" || $3 == "debugfs" { found = 1 } END { exit !found }' /proc/self/mounts ||
		die "a tracefs or debugfs mount is still visible"

	# Every sysfs mount (damo takes the first from /proc/mounts; hard-coded /sys/module too).
	local sysfs_mounts=() token fake=${DAMO_SANDBOX_FAKE_ROOT:-}
	mapfile -t sysfs_mounts < <(awk '$3 == "sysfs" { print $2 }' /proc/self/mounts)
	((${#sysfs_mounts[@]})) || die "no sysfs mounted"
	token="sandbox-$$-$RANDOM"
	local sub dir covered=()
	for mp in "${sysfs_mounts[@]}"; do
		for sub in kernel/mm/damon module kernel/tracing kernel/debug; do
			dir=$mp/$sub
			if [[ ! -d $dir ]]; then
				# sysfs has no mkdir: a kernel without DAMON sysfs has no kernel/mm/damon, so the
				# tmpfs goes over kernel/mm and damon/ is made inside it.
				if [[ $sub == kernel/mm/damon && -d $mp/kernel/mm ]]; then
					mount -t tmpfs -o mode=0755,size=64m damon-otel-fake "$mp/kernel/mm" || die "mount tmpfs on $mp/kernel/mm"
					mkdir "$dir"
				else
					printf '[damo-sandbox] note: %s does not exist on this kernel (nothing to hide)\n' "$dir" >&2
					continue
				fi
			else
				mount -t tmpfs -o mode=0755,size=64m damon-otel-fake "$dir" || die "mount tmpfs on $dir"
			fi
			echo "$token" >"$dir/$MARKER" || die "cannot write the marker in $dir"
			covered+=("$dir")
		done
	done
	# Verify before anything else happens: each covered path is a tmpfs holding our marker.
	for dir in "${covered[@]}"; do
		[[ $(cat "$dir/$MARKER") == "$token" ]] || die "marker missing in $dir"
		[[ $(stat -f -c %T "$dir") == tmpfs ]] || die "$dir is not on tmpfs"
	done
	[[ -f /sys/kernel/mm/damon/$MARKER && -f /sys/module/$MARKER ]] || die "/sys/kernel/mm/damon or /sys/module not covered"

	# The rest of sysfs read-only (only this namespace's mount objects change).
	for mp in "${sysfs_mounts[@]}"; do
		mount -o remount,bind,ro "$mp" || die "cannot remount $mp read-only"
		findmnt -rn -o OPTIONS --mountpoint "$mp" | grep -qE '(^|,)ro(,|$)' || die "$mp is not read-only"
	done

	# perf and trace-cmd would enable DAMON tracepoints through the kernel's perf interface,
	# which no mount hides: replace every copy on PATH with a stub that refuses.
	local stubdir=$DAMO_SANDBOX_TMP/stubs tool path
	mkdir -p "$stubdir"
	for tool in perf trace-cmd bpftrace; do
		printf '#!/bin/sh\necho "%s is disabled in scripts/damo-sandbox.sh" >&2\nexit 126\n' "$tool" >"$stubdir/$tool"
		chmod 755 "$stubdir/$tool"
		while read -r path; do
			[[ -n $path ]] || continue
			mount --bind "$stubdir/$tool" "$path" || die "cannot hide $path"
		done < <(type -ap "$tool" | sort -u)
	done
	export PATH=$stubdir:$PATH
	! perf --version >/dev/null 2>&1 || die "perf still runs in the sandbox"

	export HOME=$DAMO_SANDBOX_HOME
	if [[ -n ${DAMO_SANDBOX_PROBE:-} ]]; then
		load_trees "$DAMO_SANDBOX_PROBE" off
		probe_features
	fi
	load_trees "$fake" ""
	cd "$DAMO_SANDBOX_CWD"
	local rc=0
	"$DAMO_SANDBOX_DAMO" "$@" || rc=$?
	if [[ -n ${DAMO_SANDBOX_DUMP:-} ]]; then
		for sub in kernel/mm/damon module kernel/tracing kernel/debug; do
			[[ -f /sys/$sub/$MARKER ]] || continue
			mkdir -p "$DAMO_SANDBOX_DUMP/sys/$sub"
			cp -a "/sys/$sub/." "$DAMO_SANDBOX_DUMP/sys/$sub/"
			rm -f "$DAMO_SANDBOX_DUMP/sys/$sub/$MARKER"
		done
	fi
	exit "$rc"
}

if [[ ${1:-} == --inside ]]; then
	shift
	inside "$@"
fi

# ------------------------------------------------------------------------------------------------
# Outside: resolve options, then re-run this script in a private mount namespace.
damo_spec=${DAMON_OTEL_DAMO:-3.4.1} fake_root="" cwd=$PWD dump="" home="" probe=""
while (($#)); do
	case $1 in
	--damo) damo_spec=$2; shift 2 ;;
	--fake-root) fake_root=$2; shift 2 ;;
	--probe-features) probe=$2; shift 2 ;;
	--cwd) cwd=$2; shift 2 ;;
	--dump-after) dump=$2; shift 2 ;;
	--home) home=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
(($#)) || die "no damo arguments (try: $0 version)"
[[ $(id -u) == 0 ]] || die "needs root (unshare --mount, tmpfs mounts)"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"

case $damo_spec in
*/*) damo_bin=$damo_spec ;;
*) damo_bin=$("$(dirname "$SELF")/fetch-damo.sh" "$damo_spec" | tail -1) || die "fetch-damo.sh $damo_spec failed" ;;
esac
[[ -x $damo_bin ]] || die "no runnable damo at $damo_bin"
damo_bin=$(cd "$(dirname "$damo_bin")" && pwd)/$(basename "$damo_bin")
if [[ -n $fake_root ]]; then
	[[ -d $fake_root/sys ]] || die "--fake-root $fake_root has no sys/ directory"
	fake_root=$(cd "$fake_root" && pwd)
fi
if [[ -n $probe ]]; then
	[[ -d $probe/sys/kernel/mm/damon ]] || die "--probe-features $probe has no sys/kernel/mm/damon"
	probe=$(cd "$probe" && pwd)
fi
cwd=$(cd "$cwd" && pwd)
if [[ -n $dump ]]; then mkdir -p "$dump" && dump=$(cd "$dump" && pwd); fi

tmp=$(mktemp -d /tmp/damo-sandbox.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [[ -z $home ]]; then home=$tmp/home; fi
mkdir -p "$home"
home=$(cd "$home" && pwd)

rc=0
DAMO_SANDBOX_PARENT_NS=$(readlink /proc/self/ns/mnt) DAMO_SANDBOX_FAKE_ROOT=$fake_root DAMO_SANDBOX_PROBE=$probe \
	DAMO_SANDBOX_CWD=$cwd DAMO_SANDBOX_DUMP=$dump DAMO_SANDBOX_HOME=$home DAMO_SANDBOX_TMP=$tmp \
	DAMO_SANDBOX_DAMO=$damo_bin \
	unshare --mount --propagation private -- "$BASH" "$SELF" --inside "$@" || rc=$?
exit "$rc"
