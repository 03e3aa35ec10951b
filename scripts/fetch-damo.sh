#!/usr/bin/env bash
# Installs Debian's damo (DAMON's user-space tool) into a private cache and prints the path of a
# runnable `damo` wrapper, one line per requested version. The machine's apt sources, lists and
# dpkg database are never touched: apt runs on a private source list and state directory, and
# the .deb is unpacked with `dpkg -x` (the same pattern as tests/vm/run's kernel download).
#
#   scripts/fetch-damo.sh            3.4.1 (Debian sid)
#   scripts/fetch-damo.sh 2.8.3      2.8.3 (Debian trixie)
#   scripts/fetch-damo.sh all        both, one path per line (2.8.3 first)
#
# Never run the printed damo directly on a host: it writes to DAMON's sysfs (it probes
# features by writing, and starts kdamonds). Run it through scripts/damo-sandbox.sh, or in the VM.
#
# Environment:
#   DAMON_OTEL_DAMO_CACHE=<dir>    where .debs, apt lists and unpacked trees live (.cache/damo)
#   DAMON_OTEL_DAMO_PYTHON=<exe>   the interpreter the wrapper runs (default /usr/bin/python3,
#                                  Debian's; any python3 >= 3.6 works: damo needs only the standard
#                                  library, plus PyYAML for --format yaml / YAML inputs)
#   DAMON_OTEL_DAMO_REFRESH=1      re-download even if the version is unpacked already
#
# Exit codes: 0 ok, 2 setup failure (network, version not served, no python).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${DAMON_OTEL_DAMO_CACHE:-$REPO/.cache/damo}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

log() { printf '[fetch-damo] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 2; }

# The Debian suite that serves each supported version. Fixtures under tests/fixtures/damo/ are
# per version, so a version is pinned exactly: when Debian moves on, this table is updated
# together with the fixtures (the script says so instead of silently using another version).
suite_of() {
	case $1 in
	2.8.3) echo trixie ;;
	3.4.1) echo sid ;;
	*) return 1 ;;
	esac
}

pick_python() {
	local py=${DAMON_OTEL_DAMO_PYTHON:-}
	if [[ -z $py ]]; then
		if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3; else py=$(command -v python3 || true); fi
	fi
	[[ -n $py && -x $py ]] || fail "no python3 found (set DAMON_OTEL_DAMO_PYTHON or apt-get install python3)"
	"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)' ||
		fail "$py is older than 3.6 (damo's Requires-Python)"
	if ! "$py" -c 'import yaml' 2>/dev/null; then
		log "note: $py has no PyYAML: damo works, except YAML input/output (apt-get install python3-yaml)"
	fi
	echo "$py"
}

# Private apt configuration for one suite: the lists live under $CACHE/apt-<suite>.
apt_opts() {
	local dir=$CACHE/apt-$1
	printf '%s\n' -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::Cache::Archives=$dir/archives" \
		-o APT::Sandbox::User=root
}

download_deb() { # $1 version, $2 suite; prints the .deb path
	local version=$1 suite=$2 dir=$CACHE/apt-$2 opts served deb
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/cache" "$CACHE/debs"
	echo "deb http://deb.debian.org/debian $suite main" >"$dir/sources.list"
	mapfile -t opts < <(apt_opts "$suite")
	log "apt-get update (private $suite source list in $dir)"
	timeout 300 apt-get "${opts[@]}" update -q >"$dir/update.log" 2>&1 ||
		{ tail -20 "$dir/update.log" >&2; fail "private apt-get update for $suite failed"; }
	served=$(apt-cache "${opts[@]}" show damo 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
	[[ -n $served ]] || fail "Debian $suite serves no damo package"
	[[ ${served%-*} == "$version" ]] ||
		fail "Debian $suite now serves damo $served, not $version: update suite_of() and tests/fixtures/damo/ together"
	log "downloading damo $served from $suite"
	(cd "$CACHE/debs" && timeout 300 apt-get "${opts[@]}" download "damo=$served" >"$dir/download.log" 2>&1) ||
		{ tail -20 "$dir/download.log" >&2; fail "apt-get download damo=$served failed"; }
	deb=$(ls "$CACHE/debs/damo_${served/:/%3a}_all.deb" 2>/dev/null | head -1 || true)
	[[ -n $deb ]] || fail "apt-get download left no damo_${served}_all.deb in $CACHE/debs"
	echo "$deb"
}

install_version() { # $1 version; prints the wrapper path
	local version=$1 suite root wrapper deb py
	suite=$(suite_of "$version") || fail "unsupported damo version '$version' (supported: 2.8.3, 3.4.1)"
	root=$CACHE/$version
	wrapper=$root/damo
	if [[ ${DAMON_OTEL_DAMO_REFRESH:-0} != 1 && -f $root/.complete && -x $wrapper ]]; then
		echo "$wrapper"
		return
	fi
	deb=$(ls "$CACHE"/debs/damo_"$version"-*_all.deb 2>/dev/null | sort -V | tail -1 || true)
	if [[ -z $deb || ${DAMON_OTEL_DAMO_REFRESH:-0} == 1 ]]; then deb=$(download_deb "$version" "$suite"); fi
	rm -rf "${root:?}"
	mkdir -p "$root/tree"
	dpkg -x "$deb" "$root/tree" || fail "dpkg -x $deb failed"
	local pkgdir=$root/tree/usr/lib/python3/dist-packages
	[[ -f $pkgdir/damo/damo.py && -f $root/tree/usr/bin/damo ]] || fail "$deb has no damo/damo.py or usr/bin/damo"
	grep -q "damo==$version'" "$root/tree/usr/bin/damo" || fail "$deb's entry script is not damo $version"
	py=$(pick_python)
	# Debian's entry script finds damo through importlib.metadata (the egg-info next to the
	# package), so putting dist-packages on PYTHONPATH is all it needs.
	cat >"$wrapper" <<EOF
#!/bin/sh
# damo $version from $(basename "$deb"), unpacked by scripts/fetch-damo.sh. Run it only through
# scripts/damo-sandbox.sh or inside the VM: damo writes to DAMON's sysfs.
PYTHONPATH='$pkgdir'\${PYTHONPATH:+:\$PYTHONPATH} exec '$py' '$root/tree/usr/bin/damo' "\$@"
EOF
	# The same interpreter and module path, for Python snippets that call damo's own modules
	# (scripts/damo-sandbox.sh --probe-features seeds damo 3.x's feature cache with it).
	cat >"$root/python" <<EOF
#!/bin/sh
PYTHONPATH='$pkgdir'\${PYTHONPATH:+:\$PYTHONPATH} exec '$py' "\$@"
EOF
	chmod 755 "$wrapper" "$root/python"
	touch "$root/.complete"
	log "damo $version unpacked in $root (python: $py)"
	echo "$wrapper"
}

want=${1:-3.4.1}
case $want in
all) versions=(2.8.3 3.4.1) ;;
trixie) versions=(2.8.3) ;;
sid) versions=(3.4.1) ;;
*) versions=("$want") ;;
esac
for v in "${versions[@]}"; do install_version "$v"; done
